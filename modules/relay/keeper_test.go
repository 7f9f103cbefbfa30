package relay

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/sandbox"
)

// keptRun runs a turn of workspace "ws-kept" in its kept sandbox (the
// relay's keeper command, the workspace's socket dir), as the conversation
// does.
func (e *engine) keptRun(t *testing.T, a *Access, msg, checkout, state, prompt string) *sandbox.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := e.m.Run(ctx, sandbox.Spec{
		WorkspaceID: "ws-kept", MessageID: msg,
		Cmd:         a.Wrap([]string{"claude", "-p", "--output-format", "stream-json", "--verbose"}),
		Env:         append([]string{"CLAUDE_CONFIG_DIR=/state"}, a.Env...),
		Checkout:    checkout,
		Mounts:      append([]sandbox.Mount{{Source: state, Target: "/state"}}, a.Mounts...),
		NetworkMode: a.NetworkMode,
		Stdin:       []byte(prompt),
		Keeper:      a.Keeper,
		Keep:        true,
		Labels:      map[string]string{demotest.TestLabel: "true"},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return r
}

// In a kept sandbox the keeper does the shim's work for each turn: the
// agent reaches the model relay through the keeper's forwarders, no shim
// process runs beside it, and a turn nobody watches any more (its runner
// died) still ends at its deadline, stopped by the keeper with the shim's
// exit code and words.
func TestKeptSandboxTheKeeperDoesTheShimsWork(t *testing.T) {
	up := newUpstream(t)
	cfg := sandboxConfig(t, up.URL)
	cfg.Sandbox.StopGrace = time.Second
	f := startRelay(t, cfg)
	e := startEngine(t, cfg)
	dir, err := e.m.RelayDir("ws-kept")
	if err != nil {
		t.Fatal(err)
	}
	checkout, state := filepath.Join(t.TempDir(), "checkout"), filepath.Join(t.TempDir(), "state")
	for _, d := range []string{checkout, state} {
		if err := e.m.PrepareDir(d); err != nil {
			t.Fatal(err)
		}
	}
	open := func(msg string, timeout time.Duration) *Access {
		a, err := f.r.Open(context.Background(), Turn{MessageID: msg, WorkspaceID: "ws-kept", ConversationID: "c-1", SocketDir: dir, Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return a
	}

	a := open("m-1", 0)
	r := e.keptRun(t, a, "m-1", checkout, state, "PROBE model\nPROBE sh ps -o pid,args\n")
	got, _ := findings(t, r, 2)
	if m := got[0]; m["ok"] != true || m["status"] != float64(200) {
		t.Errorf("model through the keeper's forwarder: %v", m)
	}
	ps, _ := got[1]["stdout"].(string)
	if !strings.Contains(ps, ShimCommand+" --keeper") || strings.Contains(ps, "--forward") {
		t.Errorf("processes in the kept sandbox:\n%s\nwant the keeper and no shim of the turn", ps)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.m.Remove(ctx, r.ContainerID(), "m-1"); err != nil {
		t.Fatal(err)
	}
	a.Close()

	// The runner dies during the next turn (the timeout of 1s would have it
	// stop the agent); the keeper stops it at the shim's deadline.
	a = open("m-2", time.Second)
	r = e.keptRun(t, a, "m-2", checkout, state, "PROBE sleep 120\n")
	id := r.ContainerID()
	r.Detach()
	again := startEngine(t, cfg)
	r, err = again.m.Attach(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range r.Lines() {
	}
	st := r.Wait(ctx)
	msg, deadline := ShimReport(r.StderrTail(), st.ExitCode)
	if st.ExitCode != ShimExitDeadline || !deadline || !strings.Contains(msg, ShimDeadlineMessage) {
		t.Errorf("turn past its deadline ended %+v, shim report %q (deadline %v)", st, msg, deadline)
	}
}
