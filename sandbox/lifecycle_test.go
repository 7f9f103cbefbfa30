package sandbox_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestConflict: one live container per workspace, also across managers of
// the same runner.
func TestConflict(t *testing.T) {
	cfg := testConfig(t)
	e := startManager(t, cfg)
	r := e.run(e.spec("ws-busy", "PROBE sleep 300\n"))
	ctx := context.Background()
	if _, err := e.m.Run(ctx, e.spec("ws-busy", "PROBE report\n")); !errdefs.IsConflict(err) {
		t.Errorf("second run in the same manager: %v, want a conflict", err)
	}
	other := startManager(t, cfg)
	if _, err := other.m.Run(ctx, other.spec("ws-busy", "PROBE report\n")); !errdefs.IsConflict(err) {
		t.Errorf("second run from another manager of the runner: %v, want a conflict", err)
	}
	// Another workspace is fine.
	if _, st := collect(t, e.run(e.spec("ws-free", "PROBE report\n"))); !st.OK() {
		t.Errorf("other workspace: %+v", st)
	}
	r.Cancel("done")
	collect(t, r)
	// Free again once the run ended.
	if _, st := collect(t, e.run(e.spec("ws-busy", "PROBE report\n"))); !st.OK() {
		t.Errorf("after the run ended: %+v", st)
	}
}

// TestReconcileAndAttach: a runner "restarts" while a turn runs; the new
// manager finds the running container and an exited one, removes the one
// that never started, and follows the running one again from where the old
// one stopped, losing and repeating nothing; the unclaimed one is removed.
func TestReconcileAndAttach(t *testing.T) {
	cfg := testConfig(t)
	first := startManager(t, cfg)
	spec := first.spec("ws-attach", "PROBE events 20 300\nPROBE sleep 3\nPROBE events 20 300\n")
	r := first.run(spec)
	before := firstLines(r, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := first.m.Stop(ctx); err != nil { // the runner goes away; the turn goes on
		t.Fatal(err)
	}
	if st := r.Wait(ctx); st.Kind != sandbox.Detached {
		t.Fatalf("status after stop %+v, want detached", st)
	}
	exitedID := deadContainer(t, first.docker, cfg.RunnerID, cfg.Sandbox.Image, true)
	neverStartedID := deadContainer(t, first.docker, cfg.RunnerID, cfg.Sandbox.Image, false)

	second := startManager(t, cfg)
	left := map[string]sandbox.Leftover{}
	for _, l := range second.m.Leftovers() {
		left[l.ContainerID] = l
	}
	if l, ok := left[r.ContainerID()]; len(left) != 2 || !ok || l.WorkspaceID != "ws-attach" ||
		l.MessageID != spec.MessageID || l.Labels[sandbox.LabelManaged] != "true" || l.State != "running" {
		t.Fatalf("leftovers %+v, want the running turn and the exited one", left)
	}
	if l := left[exitedID]; l.State != "exited" {
		t.Errorf("exited turn container: %+v, want a leftover in state exited", l)
	}
	if _, err := second.docker.ContainerInspect(ctx, neverStartedID, client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("never started container not removed at start: %v", err)
	}
	if _, err := second.m.Run(ctx, second.spec("ws-attach", "PROBE report\n")); !errdefs.IsConflict(err) {
		t.Errorf("run while the leftover runs: %v, want a conflict", err)
	}

	again, err := second.m.Attach(ctx, r.ContainerID(), int64(len(before)))
	if err != nil {
		t.Fatal(err)
	}
	if got := second.m.Leftovers(); len(got) != 1 || got[0].ContainerID != exitedID {
		t.Errorf("leftovers after attach %+v, want only the exited one", got)
	}
	if err := second.m.RemoveWorkspace(ctx, "ws-dead-true"); err != nil {
		t.Fatal(err)
	}
	if _, err := second.docker.ContainerInspect(ctx, exitedID, client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("unclaimed leftover not removed by RemoveWorkspace: %v", err)
	}
	after, st := collect(t, again)
	if !st.OK() {
		t.Errorf("status %+v", st)
	}
	checkWholeTurn(t, append(before, after...))
	if _, err := second.docker.ContainerInspect(ctx, r.ContainerID(), client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("container not removed after the attached run: %v", err)
	}
	if _, err := second.m.Attach(ctx, "no-such-container", 0); !errdefs.IsNotFound(err) {
		t.Errorf("attach to a missing container: %v", err)
	}
}

// checkWholeTurn checks the lines of the events/sleep/events turn: one init
// first, one result last, both event batches complete and in order, no line
// twice (every line has its own uuid).
func checkWholeTurn(t *testing.T, lines []sandbox.Line) {
	t.Helper()
	if len(lines) == 0 || lineType(lines[0]) != "system" || lineType(lines[len(lines)-1]) != "result" {
		t.Fatalf("turn does not start with init and end with result (%d lines)", len(lines))
	}
	seqRE := regexp.MustCompile(`event (\d{10}) `)
	var seqs []string
	uuids := map[string]bool{}
	for _, l := range lines {
		var v struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(l.Data, &v); err != nil || v.UUID == "" {
			t.Fatalf("line is not a stream-json line with a uuid: %.200q", l.Data)
		}
		if uuids[v.UUID] {
			t.Fatalf("line repeated: %.200q", l.Data)
		}
		uuids[v.UUID] = true
		if m := seqRE.FindSubmatch(l.Data); m != nil {
			seqs = append(seqs, strings.TrimLeft(string(m[1]), "0"))
		}
	}
	var want []string
	for range 2 {
		for i := 1; i <= 20; i++ {
			want = append(want, strconv.Itoa(i))
		}
	}
	if strings.Join(seqs, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want 1..20 twice", seqs)
	}
}

// deadContainer makes a container labelled as a sandbox of the runner that
// is not running: exited when start is true, never started otherwise.
func deadContainer(t *testing.T, cli *client.Client, runnerID, image string, start bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Entrypoint: []string{"/bin/true"}, Labels: map[string]string{
			sandbox.LabelManaged: "true", sandbox.LabelRunnerID: runnerID, sandbox.LabelWorkspaceID: "ws-dead-" + strconv.FormatBool(start), sandbox.LabelMessageID: "m-dead", demotest.TestLabel: "true"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
	})
	if !start {
		return res.ID
	}
	wait := cli.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		t.Fatal(err)
	}
	return res.ID
}

// TestRemoveWorkspace: a followed run is cancelled and removed; a container
// of the workspace nobody follows is removed too.
func TestRemoveWorkspace(t *testing.T) {
	cfg := testConfig(t)
	e := startManager(t, cfg)
	ctx := context.Background()
	r := e.run(e.spec("ws-del", "PROBE sleep 300\n"))
	if err := e.m.RemoveWorkspace(ctx, "ws-del"); err != nil {
		t.Fatal(err)
	}
	st := r.Wait(ctx)
	if st.Kind != sandbox.Cancelled || st.CancelReason != "workspace removed" {
		t.Errorf("status %+v", st)
	}
	if _, err := e.docker.ContainerInspect(ctx, r.ContainerID(), client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("container still there: %v", err)
	}

	// A leftover: started by a manager that went away.
	gone := startManager(t, cfg)
	lr := gone.run(gone.spec("ws-left", "PROBE sleep 300\n"))
	if err := gone.m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	next := startManager(t, cfg)
	if len(next.m.Leftovers()) != 1 {
		t.Fatalf("leftovers %+v", next.m.Leftovers())
	}
	if err := next.m.RemoveWorkspace(ctx, "ws-left"); err != nil {
		t.Fatal(err)
	}
	if _, err := next.docker.ContainerInspect(ctx, lr.ContainerID(), client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("leftover still there: %v", err)
	}
	if len(next.m.Leftovers()) != 0 {
		t.Errorf("leftovers after removal %+v", next.m.Leftovers())
	}
	if err := next.m.RemoveWorkspace(ctx, "ws-never-existed"); err != nil {
		t.Errorf("removing a workspace without a sandbox: %v", err)
	}
}

// TestAttachExited: the turn ends while no runner reads it; after the restart
// its container is an exited leftover, and Attach reads the rest of its output
// to the result line, with its real exit status.
func TestAttachExited(t *testing.T) {
	cfg := testConfig(t)
	first := startManager(t, cfg)
	r := first.run(first.spec("ws-exited", "PROBE events 20 300\nPROBE sleep 1\nPROBE events 20 300\n"))
	before := firstLines(r, 5)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := first.m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	wait := first.docker.ContainerWait(ctx, r.ContainerID(), client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		t.Fatal(err)
	}

	second := startManager(t, cfg)
	if left := second.m.Leftovers(); len(left) != 1 || left[0].State != "exited" {
		t.Fatalf("leftovers %+v, want the exited turn", left)
	}
	again, err := second.m.Attach(ctx, r.ContainerID(), int64(len(before)))
	if err != nil {
		t.Fatal(err)
	}
	after, st := collect(t, again)
	if !st.OK() || st.ExitCode != 0 {
		t.Errorf("status %+v, want the agent's own exit 0", st)
	}
	checkWholeTurn(t, append(before, after...))
}
