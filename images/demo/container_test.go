package demo_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) { demotest.Main(m) }

func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// run is one agent container: created, attached (stdin, stdout, stderr)
// and started, removed by t.Cleanup.
type run struct {
	t      *testing.T
	cli    *client.Client
	id     string
	stdin  io.WriteCloser
	lines  chan map[string]any // parsed stdout lines; closed at EOF
	mu     sync.Mutex
	raw    bytes.Buffer // all of stdout
	stderr bytes.Buffer
	done   chan struct{}
}

type spec struct {
	cmd  []string
	env  []string
	user string
	host *container.HostConfig
}

func startRun(t *testing.T, cli *client.Client, s spec) *run {
	t.Helper()
	ctx := t.Context()
	host := s.host
	if host == nil {
		host = &container.HostConfig{NetworkMode: "none"}
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image: demotest.Image(t), Cmd: s.cmd, Env: s.env, User: s.user,
			OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
			Labels: map[string]string{demotest.TestLabel: "true"},
		},
		HostConfig: host,
	})
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	att, err := cli.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	t.Cleanup(att.Close)
	r := &run{t: t, cli: cli, id: created.ID, stdin: writeCloser{att.HijackedResponse}, lines: make(chan map[string]any, 100000), done: make(chan struct{})}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, &lockedWriter{mu: &r.mu, w: &r.stderr}, att.Reader)
		pw.CloseWithError(err)
	}()
	go func() {
		defer close(r.done)
		defer close(r.lines)
		br := bufio.NewReaderSize(pr, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			r.mu.Lock()
			r.raw.Write(line)
			r.mu.Unlock()
			var m map[string]any
			if len(line) > 0 && json.Unmarshal(line, &m) == nil {
				r.lines <- m
			}
			if err != nil {
				return
			}
		}
	}()
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container: %v", err)
	}
	return r
}

type writeCloser struct{ h client.HijackedResponse }

func (w writeCloser) Write(p []byte) (int, error) { return w.h.Conn.Write(p) }
func (w writeCloser) Close() error                { return w.h.CloseWrite() }

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// until returns the lines read up to and including the first one ready accepts.
func (r *run) until(ready func(map[string]any) bool) []map[string]any {
	r.t.Helper()
	var seen []map[string]any
	timeout := time.After(time.Minute)
	for {
		select {
		case m, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("stdout ended before the expected line; stderr %q", r.stderr.String())
			}
			seen = append(seen, m)
			if ready(m) {
				return seen
			}
		case <-timeout:
			r.t.Fatal("timed out waiting for agent output")
		}
	}
}

// wait sends stdin (closing it) and returns all stdout lines, stdout, stderr and the exit code.
func (r *run) wait(stdin string) ([]map[string]any, string, string, int64) {
	r.t.Helper()
	if stdin != "" {
		if _, err := io.WriteString(r.stdin, stdin); err != nil {
			r.t.Fatalf("write stdin: %v", err)
		}
	}
	_ = r.stdin.Close()
	var lines []map[string]any
	for m := range r.lines {
		lines = append(lines, m)
	}
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := r.cli.ContainerWait(ctx, r.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var code int64
	select {
	case res := <-w.Result:
		code = res.StatusCode
	case err := <-w.Error:
		r.t.Fatalf("wait container: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return lines, r.raw.String(), r.stderr.String(), code
}

var agentCmd = []string{"claude", "-p", "--output-format", "stream-json", "--verbose"}

// hardened is the kind of host config the sandbox engine uses.
func hardened(binds ...string) *container.HostConfig {
	pids := int64(64)
	return &container.HostConfig{
		Binds: binds, NetworkMode: "none", ReadonlyRootfs: true,
		Tmpfs:       map[string]string{"/tmp": "rw,nosuid,nodev,size=64m"},
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges"},
		Resources: container.Resources{Memory: 256 << 20, MemorySwap: 256 << 20, PidsLimit: &pids,
			NanoCPUs: 1e9},
	}
}

// agentDir makes a host directory the agent (uid 1000) can write.
func agentDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

func toolResults(t *testing.T, lines []map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines {
		if l["type"] != "user" {
			continue
		}
		block := l["message"].(map[string]any)["content"].([]any)[0].(map[string]any)
		if block["type"] != "tool_result" {
			continue
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(block["content"].(string)), &f); err != nil {
			t.Fatalf("tool result is not JSON: %v", err)
		}
		out = append(out, f)
	}
	return out
}

func lastResult(t *testing.T, lines []map[string]any) map[string]any {
	t.Helper()
	n := 0
	for _, l := range lines {
		if l["type"] == "result" {
			n++
		}
	}
	if n != 1 || len(lines) == 0 || lines[len(lines)-1]["type"] != "result" || lines[0]["subtype"] != "init" {
		t.Fatalf("want init first and exactly one result line last, got %d results in %d lines", n, len(lines))
	}
	return lines[len(lines)-1]
}

func TestContainerTurnProbesAndResume(t *testing.T) {
	cli := dockerClient(t)
	state, work := agentDir(t), agentDir(t)
	binds := []string{state + ":/state", work + ":/workspace"}
	env := []string{"CLAUDE_CONFIG_DIR=/state", "ANTHROPIC_API_KEY=dummy"}
	const sid = "11111111-2222-4333-8444-555555555555"

	prompt := "Check the sandbox\nPROBE report\nPROBE write /workspace/out/hello.txt hello from the sandbox\n" +
		"PROBE fork 200\nPROBE events 100 1k\nPROBE filltmp 100m\n"
	r := startRun(t, cli, spec{cmd: append(agentCmd, "--session-id", sid), env: env, host: hardened(binds...)})
	lines, _, stderr, code := r.wait(prompt)
	res := lastResult(t, lines)
	if code != 0 || res["is_error"] != false || res["session_id"] != sid {
		t.Fatalf("turn 1: exit %d stderr %q result %v", code, stderr, res)
	}
	f := toolResults(t, lines)
	if len(f) != 5 {
		t.Fatalf("%d tool results, want 5", len(f))
	}

	rep := f[0]
	cg := rep["cgroup"].(map[string]any)
	writable := rep["writable"].(map[string]any)
	checks := map[string]bool{
		"uid 1000":         rep["uid"] == float64(1000) && rep["user"] == "claude",
		"no capabilities":  rep["CapEff"] == "0000000000000000" && rep["CapBnd"] == "0000000000000000",
		"no new privs":     rep["NoNewPrivs"] == "1",
		"seccomp":          rep["Seccomp"] == "2",
		"read-only root":   rep["root_readonly"] == true && writable["/"] == false && writable["/etc"] == false,
		"writable tmp":     writable["/tmp"] == true && writable["cwd"] == true,
		"memory limit":     cg["memory_limit"] == float64(256<<20),
		"pids limit":       cg["pids_max"] == float64(64),
		"cpu quota":        cg["cpu_quota_us"] == float64(100000) && cg["cpu_period_us"] == float64(100000),
		"no docker socket": !rep["docker_sock"].(map[string]any)["/var/run/docker.sock"].(bool),
		"cwd":              rep["cwd"] == "/workspace",
		"loopback only":    len(rep["interfaces"].([]any)) == 1,
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("report: %s failed: %.2000s", name, mustJSON(rep))
		}
	}

	if b, err := os.ReadFile(filepath.Join(work, "out", "hello.txt")); err != nil || string(b) != "hello from the sandbox" {
		t.Errorf("written file: %q, %v", b, err)
	}
	if f[2]["ok"] != false || f[2]["started"].(float64) >= 64 || f[2]["error"] == "" {
		t.Errorf("fork under a pids limit of 64: %v", f[2])
	}
	if f[3]["events"] != float64(100) {
		t.Errorf("events: %v", f[3])
	}
	if f[4]["ok"] != false || f[4]["bytes"].(float64) > 64<<20 || !strings.Contains(f[4]["error"].(string), "no space") {
		t.Errorf("filltmp beyond the 64m tmpfs: %v", f[4])
	}

	r = startRun(t, cli, spec{cmd: append(agentCmd, "--resume", sid), env: env, host: hardened(binds...)})
	lines, _, stderr, code = r.wait("Second turn via resume")
	res = lastResult(t, lines)
	want := `resumed session ` + sid + `: turn 2, previous prompt: "Check the sandbox`
	if code != 0 || res["session_id"] != sid || !strings.Contains(res["result"].(string), want) {
		t.Fatalf("resume: exit %d stderr %q result %v", code, stderr, res["result"])
	}

	r = startRun(t, cli, spec{cmd: append(agentCmd, "--resume", "00000000-0000-0000-0000-000000000000"), env: env, host: hardened(binds...)})
	lines, _, stderr, code = r.wait("hi")
	if code != 1 || len(lines) != 1 || lines[0]["subtype"] != "error_during_execution" || !strings.Contains(stderr, "No conversation found") {
		t.Fatalf("resume missing: exit %d lines %v stderr %q", code, lines, stderr)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestContainerSignals(t *testing.T) {
	cli := dockerClient(t)
	tests := map[string]struct {
		signal string
		code   int64
	}{
		"SIGTERM": {"SIGTERM", 143},
		"SIGINT":  {"SIGINT", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := startRun(t, cli, spec{cmd: agentCmd, host: hardened()})
			io.WriteString(r.stdin, "PROBE sleep 60s")
			r.stdin.Close()
			r.until(func(m map[string]any) bool { return m["type"] == "assistant" })
			if _, err := cli.ContainerKill(t.Context(), r.id, client.ContainerKillOptions{Signal: tc.signal}); err != nil {
				t.Fatalf("kill: %v", err)
			}
			rest, _, _, code := r.wait("")
			if code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			for _, l := range rest {
				if l["type"] == "result" {
					t.Fatalf("result line after %s", tc.signal)
				}
			}
			interrupted := len(rest) == 1 && strings.Contains(string(mustJSON(rest[0])), "[Request interrupted by user]")
			if interrupted != (tc.signal == "SIGINT") {
				t.Fatalf("lines after %s: %v", tc.signal, rest)
			}
		})
	}
}

func TestContainerRootRefusal(t *testing.T) {
	cli := dockerClient(t)
	want, err := os.ReadFile("agent/testdata/root-refusal.stderr.txt")
	if err != nil {
		t.Fatal(err)
	}
	r := startRun(t, cli, spec{cmd: append(agentCmd, "--dangerously-skip-permissions"), user: "0:0"})
	lines, stdout, stderr, code := r.wait("hi")
	if code != 1 || stdout != "" || len(lines) != 0 || stderr != string(want) {
		t.Fatalf("root bypass: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	r = startRun(t, cli, spec{cmd: append(agentCmd, "--permission-mode", "bypassPermissions"), user: "0:0", env: []string{"IS_SANDBOX=1"}})
	if lines, _, stderr, code := r.wait("hi"); code != 0 || lastResult(t, lines)["result"] != "Mock reply: hi" {
		t.Fatalf("root with IS_SANDBOX=1: exit %d stderr %q", code, stderr)
	}
	r = startRun(t, cli, spec{cmd: []string{"claude", "-p", "hi", "--output-format", "stream-json"}})
	if _, _, stderr, code := r.wait(""); code != 1 || !strings.Contains(stderr, "requires --verbose") {
		t.Fatalf("usage error: exit %d stderr %q", code, stderr)
	}
}
