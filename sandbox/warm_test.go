package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

var keeperBuild struct {
	once sync.Once
	dir  string
	err  error
}

// keeperBinary builds the keeper (static) once per test binary.
func keeperBinary(t *testing.T) string {
	t.Helper()
	keeperBuild.once.Do(func() {
		keeperBuild.dir, keeperBuild.err = os.MkdirTemp("", "keeper-")
		if keeperBuild.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(keeperBuild.dir, "keeper"), "./internal/keepercmd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			keeperBuild.err = err
			keeperBuild.dir = out.String()
		}
	})
	if keeperBuild.err != nil {
		t.Fatalf("build keeper: %v: %s", keeperBuild.err, keeperBuild.dir)
	}
	_ = os.Chmod(keeperBuild.dir, 0o755)
	return filepath.Join(keeperBuild.dir, "keeper")
}

const keeperInside = "/opt/keeper"

// keptSpec is spec for a kept sandbox: the keeper mounted and named.
func (e *env) keptSpec(workspace, prompt string) sandbox.Spec {
	if rt := os.Getenv("CLAUDETTE_TEST_RUNTIME"); rt != "" {
		// gVisor cannot listen on a host socket: kept sandboxes fall back to a container per turn there.
		e.t.Skipf("kept sandboxes need the keeper to listen on a bind-mounted socket, which runtime %s does not allow", rt)
	}
	s := e.spec(workspace, prompt)
	s.Mounts = append(s.Mounts, sandbox.Mount{Source: keeperBinary(e.t), Target: keeperInside, ReadOnly: true})
	s.Keeper = []string{keeperInside}
	s.Keep = true
	return s
}

// again is the next turn of the same workspace: same mounts, new message.
func again(s sandbox.Spec, prompt string) sandbox.Spec {
	s.MessageID = "msg-" + randHex(4)
	s.Stdin = []byte(prompt)
	return s
}

// turn runs a kept spec to its end and releases the sandbox (as the
// conversation does once the answer is recorded).
func (e *env) turn(s sandbox.Spec) (string, []sandbox.Line, sandbox.Status) {
	e.t.Helper()
	r := e.run(s)
	lines, st := collect(e.t, r)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.m.Remove(ctx, r.ContainerID(), s.MessageID); err != nil {
		e.t.Fatalf("release: %v", err)
	}
	return r.ContainerID(), lines, st
}

func (e *env) startedAt(id string) string {
	e.t.Helper()
	res, err := e.docker.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		e.t.Fatalf("inspect %s: %v", id, err)
	}
	return res.Container.State.StartedAt
}

func (e *env) gone(id string) bool {
	_, err := e.docker.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	return errdefs.IsNotFound(err)
}

// TestWarmReuse: the second turn runs in the same container, not created or
// started again, with its own environment; what the first turn left in /tmp
// and every process it left (daemonized too) are gone.
func TestWarmReuse(t *testing.T) {
	cfg := testConfig(t)
	e := startManager(t, cfg)
	s := e.keptSpec("ws-warm", "PROBE sh setsid sleep 1000 </dev/null >/dev/null 2>&1 & nohup sleep 1001 >/dev/null 2>&1 &\nPROBE write /tmp/left first\n")
	s.Env = append(s.Env, "TURN_VAR=one")
	id1, lines, st := e.turn(s)
	if !st.OK() {
		t.Fatalf("first turn %+v", st)
	}
	if f := findings(t, lines); len(f) != 2 || f[0]["ok"] != true || f[1]["ok"] != true {
		t.Fatalf("first turn findings %v", f)
	}
	started := e.startedAt(id1)

	s2 := again(s, "PROBE sh ps -o pid,args; env; ls -a /tmp\n")
	s2.Env = append(s2.Env[:len(s2.Env)-1:len(s2.Env)-1], "TURN_VAR=two")
	id2, lines, st := e.turn(s2)
	if !st.OK() {
		t.Fatalf("second turn %+v", st)
	}
	if id2 != id1 || e.startedAt(id2) != started {
		t.Errorf("second turn in %s (started %s), want the first's %s (started %s)", id2, e.startedAt(id2), id1, started)
	}
	f := findings(t, lines)
	if len(f) != 1 {
		t.Fatalf("findings %v", f)
	}
	out, _ := f[0]["stdout"].(string)
	if strings.Contains(out, "sleep 100") {
		t.Errorf("a process of the first turn is still running:\n%s", out)
	}
	if strings.Contains(out, "left") {
		t.Errorf("/tmp kept the first turn's file:\n%s", out)
	}
	if !strings.Contains(out, "TURN_VAR=two") || strings.Contains(out, "TURN_VAR=one") {
		t.Errorf("environment is not the second turn's:\n%s", out)
	}
}

// TestWarmOOM: a turn killed on the memory limit inside a kept sandbox says
// so, and the workspace's next turn runs.
func TestWarmOOM(t *testing.T) {
	cfg := testConfig(t)
	e := startManager(t, cfg)
	s := e.keptSpec("ws-warm-oom", "PROBE report\n")
	if _, _, st := e.turn(s); !st.OK() {
		t.Fatalf("first turn %+v", st)
	}
	_, _, st := e.turn(again(s, "PROBE alloc 512m\n"))
	if st.Kind != sandbox.OOMKilled || st.Reason != "killed: memory limit 256 MiB reached" {
		t.Errorf("status %+v, want killed on the memory limit", st)
	}
	if _, _, st := e.turn(again(s, "PROBE report\n")); !st.OK() {
		t.Errorf("turn after the kill %+v", st)
	}
}

// TestWarmEvictions: an idle sandbox goes after sandbox.idle; one removed
// behind the manager's back is replaced by a new one; a changed mount
// starts a new one.
func TestWarmEvictions(t *testing.T) {
	cfg := testConfig(t)
	e := startManager(t, cfg)
	s := e.keptSpec("ws-warm-evict", "PROBE report\n")
	id1, _, st := e.turn(s)
	if !st.OK() {
		t.Fatalf("first turn %+v", st)
	}
	if _, err := e.docker.ContainerRemove(context.Background(), id1, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	id2, _, st := e.turn(again(s, "PROBE report\n"))
	if !st.OK() || id2 == id1 {
		t.Fatalf("turn after removal: %+v in %s", st, id2)
	}
	changed := again(s, "PROBE report\n")
	changed.Mounts = append([]sandbox.Mount(nil), s.Mounts...)
	changed.Mounts[0].Source = e.hostDir("ws-warm-evict-state2")
	id3, _, st := e.turn(changed)
	if !st.OK() || id3 == id2 {
		t.Fatalf("turn with another mount: %+v in %s", st, id3)
	}
	if !e.gone(id2) {
		t.Errorf("the sandbox with the old mount %s is still there", id2)
	}
	cfg.Sandbox.Pids++ // another setting: never a turn in a container started with the old one
	id5, lines, st := e.turn(again(changed, "PROBE report\n"))
	if !st.OK() || id5 == id3 || !e.gone(id3) {
		t.Fatalf("turn with another pids limit: %+v in %s (before %s, gone %v)", st, id5, id3, e.gone(id3))
	}
	if f := findings(t, lines); len(f) != 1 || num(f[0]["cgroup"].(map[string]any)["pids_max"]) != cfg.Sandbox.Pids {
		t.Errorf("report %v, want pids_max %d", f, cfg.Sandbox.Pids)
	}

	short := testConfig(t)
	short.Sandbox.Idle = time.Second
	e2 := startManager(t, short)
	id4, _, st := e2.turn(e2.keptSpec("ws-warm-idle", "PROBE report\n"))
	if !st.OK() {
		t.Fatalf("turn %+v", st)
	}
	for i := 0; !e2.gone(id4); i++ {
		if i > 600 {
			t.Fatalf("idle sandbox %s not removed", id4)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWarmAttach: a manager that stopped following a turn in a kept
// sandbox (a restarted runner) follows it again from a line and loses none.
func TestWarmAttach(t *testing.T) {
	cfg := testConfig(t)
	first := startManager(t, cfg)
	s := first.keptSpec("ws-warm-attach", "PROBE report\n")
	if _, _, st := first.turn(s); !st.OK() {
		t.Fatalf("first turn %+v", st)
	}
	s2 := again(s, "PROBE events 20 300\nPROBE sleep 3\nPROBE events 20 300\n")
	r := first.run(s2)
	before := firstLines(r, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := first.m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	second := startManager(t, cfg)
	left := second.m.Leftovers()
	if len(left) != 1 || left[0].ContainerID != r.ContainerID() || left[0].MessageID != s2.MessageID {
		t.Fatalf("leftovers %+v, want the kept sandbox with the second turn", left)
	}
	// The first turn's answer sent again after the restart releases its
	// hold: the sandbox serves the second turn now and stays, before the
	// re-attach and after it.
	stale := func() {
		if err := second.m.Remove(ctx, r.ContainerID(), s.MessageID); err != nil || second.gone(r.ContainerID()) {
			t.Fatalf("the first turn's release took the second turn's sandbox (%v)", err)
		}
	}
	stale()
	again, err := second.m.Attach(ctx, r.ContainerID(), int64(len(before)))
	if err != nil {
		t.Fatal(err)
	}
	stale()
	after, st := collect(t, again)
	if !st.OK() {
		t.Errorf("status %+v", st)
	}
	checkWholeTurn(t, append(before, after...))
}

// TestWarmOrphanReplaced: a kept sandbox that a restart left and nothing
// took up (here: idle, its manager still alive but another one in charge)
// does not block the workspace's next turn: it is removed and the turn
// starts a new one.
func TestWarmOrphanReplaced(t *testing.T) {
	cfg := testConfig(t)
	first := startManager(t, cfg)
	s := first.keptSpec("ws-warm-orphan", "PROBE report\n")
	id1, _, st := first.turn(s)
	if !st.OK() {
		t.Fatalf("first turn %+v", st)
	}
	second := startManager(t, cfg)
	id2, _, st := second.turn(again(s, "PROBE report\n"))
	if !st.OK() || id2 == id1 {
		t.Fatalf("turn beside the orphan: %+v in %s (orphan %s)", st, id2, id1)
	}
	if !second.gone(id1) {
		t.Errorf("the orphaned sandbox %s is still there", id1)
	}
}
