package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/loopfs"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fullDisk is a manager and a real reporter on a small ext4 data dir that
// the test fills and frees, and the orchestrator they deliver to.
type fullDisk struct {
	fs   *loopfs.FS
	orch *orchestratortest.Orchestrator
	rep  *reporter.Reporter
	m    *Manager
	logs *observer.ObservedLogs
}

func newFullDisk(t *testing.T) *fullDisk {
	fs := loopfs.New(t, 32<<20)
	orch := orchestratortest.New(t, orchestratortest.Options{Token: "tok", RunnerID: "r1"})
	cfg := config.Defaults()
	cfg.DataDir, cfg.RunnerID, cfg.RunnerToken, cfg.OrchestratorURL = fs.Dir, "r1", "tok", orch.URL
	cfg.Outbox.HeartbeatInterval = time.Hour
	cfg.MaxConcurrent = 0 // nothing is started: the test drives the turn
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	rep, err := reporter.New(reporter.Params{Config: cfg, Logger: log, Health: health.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := New(Params{Config: cfg, Logger: log, Sink: rep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.cancel()
		_ = m.store.close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rep.Stop(ctx)
	})
	return &fullDisk{fs: fs, orch: orch, rep: rep, m: m, logs: logs}
}

func agentLines(from, n int) []queued {
	out := make([]queued, n)
	for i := range out {
		out[i] = queued{Line: sandbox.Line{Data: fmt.Appendf(nil, `{"type":"assistant","n":%d,"pad":%q}`, from+i, strings.Repeat("x", 900))}}
	}
	return out
}

// A data dir filled to its last byte in the middle of a turn: the relay's
// send of the next lines fails, is retried with the same seqs (not dropped,
// the turn not stopped) and goes through once space is back; the answer is
// recorded and sent after. The orchestrator gets every event once, in
// order, then the answer; the failure and the recovery are logged once.
func TestFullDataDirMidTurnLosesNothing(t *testing.T) {
	d := newFullDisk(t)
	m := d.m
	turn := Turn{MessageID: "m1", WorkspaceID: "ws", ConversationID: "c", RequestID: json.RawMessage(`"req-1"`)}
	ts := newTurnState(&turnRecord{Turn: turn, State: rpc.StateQueued, Seq: 1, MaxSeq: 1, StateSeq: 1})
	if err := m.store.putTurn(ts.rec); err != nil {
		t.Fatal(err)
	}
	m.emitState(ts, rpc.StateQueued, 1)
	m.emitState(ts, rpc.StateRunning, m.nextSeq(ts, rpc.StateRunning))
	tracker := &streamTracker{}
	m.sendLines(ts, tracker, agentLines(0, 10), nil)

	d.fs.Fill(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := range 4 { // enough to need new blocks
			m.sendLines(ts, tracker, agentLines(10+100*k, 100), nil)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for m.StorageErr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the relay's writes never failed on a full data dir")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("the relay went on while its sends failed")
	case <-time.After(300 * time.Millisecond):
	}
	if c := ts.stopCause(); c != causeNone {
		t.Fatalf("the turn was stopped on a full disk (cause %v)", c)
	}
	d.fs.Release(t)
	<-done
	if err := m.StorageErr(); err != nil {
		t.Fatalf("StorageErr after space is back: %v", err)
	}
	if got := tracker.lines; got != 410 {
		t.Fatalf("%d lines relayed, want 410", got)
	}

	resp := rpc.Result(turn.RequestID, map[string]string{"status": "completed"})
	if err := m.decide(ts, resp); err != nil {
		t.Fatal(err)
	}
	if !m.deliverAnswer(ts.rec) {
		t.Fatal("answer not delivered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.rep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs := d.orch.Events("m1")
	if len(evs) != 410 {
		t.Fatalf("%d events delivered, want 410", len(evs))
	}
	for i, ev := range evs {
		if want := int64(3 + i); ev.Seq != want {
			t.Fatalf("event %d has seq %d, want %d", i, ev.Seq, want)
		}
	}
	if dup := d.orch.Duplicates(); len(dup) > 0 {
		t.Fatalf("duplicates: %v", dup)
	}
	if p := d.orch.OrderProblems(); len(p) > 0 {
		t.Fatalf("order problems: %v", p)
	}
	if err := d.orch.ResponseFollowsEvents(`"req-1"`, "m1"); err != nil {
		t.Fatal(err)
	}
	if n := d.logs.FilterMessage("cannot record or send; turns wait and retry until the data dir can be written").Len(); n != 1 {
		t.Errorf("%d failure log lines, want 1", n)
	}
	if turns, _ := m.store.turns(); len(turns) != 0 {
		t.Errorf("the answered turn is still recorded")
	}
}

// A turn record the full data dir refuses at Submit: Submit waits (and with
// it the intake), and when the intake stops first it says the turn is not
// recorded, so the message stays pending; after space is back the same
// message is taken.
func TestFullDataDirSubmitIsNotLost(t *testing.T) {
	d := newFullDisk(t)
	m := d.m
	turn := Turn{MessageID: "m2", WorkspaceID: "ws", ConversationID: "c", RequestID: json.RawMessage(`"req-2"`)}
	// Fill the store's free pages too: grow it, then free the space in it.
	for i := range 200 {
		if err := m.store.putSession("ws", fmt.Sprintf("pad-%d", i), sessionRecord{SessionID: strings.Repeat("p", 4000)}); err != nil {
			t.Fatal(err)
		}
	}
	d.fs.Fill(t)
	// Big enough to need pages bbolt does not have.
	turn.Prompt = strings.Repeat("prompt ", 200_000)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := m.Submit(ctx, turn); err == nil {
		t.Fatal("Submit on a full data dir returned nil (the handler would settle a message that is not recorded)")
	}
	if turns, _ := m.store.turns(); len(turns) != 0 {
		t.Fatalf("%d turns recorded", len(turns))
	}
	d.fs.Release(t)
	if err := m.Submit(context.Background(), turn); err != nil {
		t.Fatalf("Submit after space is back: %v", err)
	}
	if turns, _ := m.store.turns(); len(turns) != 1 {
		t.Fatalf("%d turns recorded, want 1", len(turns))
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if err := d.rep.Flush(ctx2); err != nil {
		t.Fatal(err)
	}
	if items := d.orch.Message("m2"); len(items) != 1 {
		t.Fatalf("%d items of m2 delivered, want the queued state once", len(items))
	}
}
