package sandbox_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// TestMemoryLimit: a memory bomb is killed and the status names the limit.
func TestMemoryLimit(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(runtimeName(rt), func(t *testing.T) {
			e := startManager(t, runtimeConfig(t, rt))
			_, st := collect(t, e.run(e.spec("ws-mem", "PROBE alloc 1g\nPROBE report\n")))
			if st.Kind != sandbox.OOMKilled || st.Reason != "killed: memory limit 256 MiB reached" || st.ExitCode == 0 {
				t.Errorf("status %+v, want killed on the memory limit", st)
			}
		})
	}
}

// TestProcessLimit: forks beyond the pids limit fail inside; the status says
// the limit was reached.
func TestProcessLimit(t *testing.T) {
	e := startManager(t, testConfig(t))
	lines, st := collect(t, e.run(e.spec("ws-fork", "PROBE fork 500\nPROBE sleep 2.5\n")))
	f := findings(t, lines)
	if len(f) != 2 || f[0]["ok"] != false || num(f[0]["started"]) >= 64 || num(f[0]["started"]) < 1 {
		t.Fatalf("fork findings %v, want fewer than 64 started", f)
	}
	if st.Kind != sandbox.Exited || st.ExitCode != 0 || !st.PidsLimitHit || st.Reason != "exited with code 0 (process limit 64 reached)" {
		t.Errorf("status %+v", st)
	}
}

// TestForkBomb: a real shell fork bomb stays capped by the pids cgroup while
// the host keeps forking, and the status says so.
func TestForkBomb(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sandbox.CPUs = 0.5
	e := startManager(t, cfg)
	spec := e.spec("ws-bomb", "")
	spec.Cmd = []string{"/bin/sh", "-c", `echo started; b() { b | b & }; b; sleep 300`}
	r := e.run(spec)
	if l := <-r.Lines(); string(l.Data) != "started" {
		t.Fatalf("first line %q", l.Data)
	}
	pidsDir := sandbox.CgroupDir(e.m.Capabilities(), "pids", r.ContainerID())
	deadline := time.Now().Add(time.Minute)
	for readInt(t, filepath.Join(pidsDir, "pids.events"), "max") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the fork bomb never reached the pids limit")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Fatalf("the host cannot fork during the fork bomb: %v", err)
		}
	}
	if cur := readInt(t, filepath.Join(pidsDir, "pids.current"), ""); cur > 64 {
		t.Errorf("pids.current %d above the limit", cur)
	}
	time.Sleep(time.Second) // let the run's cgroup sampler see pids.events
	r.Cancel("fork bomb")
	_, st := collect(t, r)
	if st.Kind != sandbox.Cancelled || st.Reason != "stopped: cancelled (process limit 64 reached)" {
		t.Errorf("status %+v", st)
	}
}

func readInt(t *testing.T, path, key string) int64 {
	t.Helper()
	s := strings.TrimSpace(readFile(t, path))
	if key != "" {
		v, _ := strings.CutPrefix(s, key+" ")
		s = v
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", path, s, err)
	}
	return n
}

// TestTmpfs: /tmp is writable up to its size and no further.
func TestTmpfs(t *testing.T) {
	e := startManager(t, testConfig(t))
	lines, st := collect(t, e.run(e.spec("ws-tmp", "PROBE filltmp 8m\nPROBE filltmp 32m\n")))
	f := findings(t, lines)
	if len(f) != 2 || f[0]["ok"] != true || f[1]["ok"] != false || num(f[1]["bytes"]) > 16<<20 {
		t.Errorf("filltmp findings %v", f)
	}
	if !strings.Contains(f[1]["error"].(string), "no space left") {
		t.Errorf("filltmp error %v", f[1]["error"])
	}
	if !st.OK() {
		t.Errorf("status %+v", st)
	}
}

// TestTimeout: the turn timeout stops the agent with SIGTERM and removes it.
func TestTimeout(t *testing.T) {
	e := startManager(t, testConfig(t))
	spec := e.spec("ws-timeout", "PROBE sleep 300\n")
	spec.Timeout = 2 * time.Second
	r := e.run(spec)
	_, st := collect(t, r)
	if st.Kind != sandbox.TimedOut || st.Reason != "stopped: turn timeout 2s" || st.ExitCode != 143 {
		t.Errorf("status %+v, want timed out with 143 (SIGTERM honoured)", st)
	}
	if _, err := e.docker.ContainerInspect(context.Background(), r.ContainerID(), client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("container still there: %v", err)
	}
}

// TestCancelEscalates: a process that ignores SIGTERM is killed after the
// grace period.
func TestCancelEscalates(t *testing.T) {
	e := startManager(t, testConfig(t))
	spec := e.spec("ws-stubborn", "")
	spec.Cmd = []string{"/bin/sh", "-c", `trap "" TERM; echo ready; while true; do sleep 1; done`}
	r := e.run(spec)
	if l := <-r.Lines(); string(l.Data) != "ready" {
		t.Fatalf("first line %q", l.Data)
	}
	r.Cancel("")
	_, st := collect(t, r)
	if st.Kind != sandbox.Cancelled || st.Reason != "stopped: cancelled" || st.ExitCode != 137 {
		t.Errorf("status %+v, want cancelled and killed (137)", st)
	}
	if _, err := e.docker.ContainerInspect(context.Background(), r.ContainerID(), client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("container still there: %v", err)
	}
}

// TestExitCode: a plain failure says its code.
func TestExitCode(t *testing.T) {
	e := startManager(t, testConfig(t))
	r := e.run(e.spec("ws-exit", "PROBE stderr something went wrong\nPROBE exit 7\n"))
	_, st := collect(t, r)
	if st.Kind != sandbox.Exited || st.ExitCode != 7 || st.Reason != "exited with code 7" {
		t.Errorf("status %+v", st)
	}
	if !strings.Contains(string(r.StderrTail()), "something went wrong") {
		t.Errorf("stderr tail %q", r.StderrTail())
	}
}
