package reporter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/loopfs"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// A data dir filled to its last byte while items wait for delivery: Send
// fails with a storage error (nothing stored), the "outbox" readiness says
// why, what was stored before is still delivered, and once the space is back
// the same items are stored and delivered: every item once, in order, with
// one log line for the failure and one for the recovery.
func TestFullDataDirLosesNothing(t *testing.T) {
	fs := loopfs.New(t, 32<<20)
	orch := newOrchestrator(t)
	h := start(t, orch, fs.Dir)
	h.waitHeartbeat()
	h.send(events("m", 1, 20)...)
	h.flush()

	// Items stored while the orchestrator is failing, then the disk fills.
	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})
	h.send(events("m", 21, 40)...)
	fs.Fill(t)

	// Sends fail (a few may still fit in the tail's last block).
	next, failures := int64(41), 0
	var failed []reporter.Item
	for failures < 5 {
		batch := events("m", next, next+9)
		err := h.rep.Send(context.Background(), batch...)
		switch {
		case err == nil:
			next += 10
			if next > 2000 {
				t.Fatal("the outbox kept storing items on a full file system")
			}
			continue
		case !reporter.IsStorage(err):
			t.Fatalf("send on a full disk: %v (want a storage error)", err)
		}
		failures++
		failed = batch
	}
	ready, reason := h.health.Component(reporter.StorageComponent).IsReady()
	if ready || !strings.Contains(reason, "outbox cannot be written") {
		t.Fatalf("outbox readiness on a full disk: ready=%v %q", ready, reason)
	}
	if err := h.rep.StorageErr(); err == nil {
		t.Fatal("StorageErr is nil while commits fail")
	}

	// What was stored before is still delivered while the disk is full.
	orch.SetDefault(orchestratortest.Reply{})
	h.flush()
	expectKeys(t, keys(orch.Items()), eventKeys("m", 1, next-1))

	// Space is back: the same items are stored (same place in the order).
	fs.Release(t)
	h.send(failed...)
	h.send(events("m", next+10, next+19)...)
	h.flush()
	if ready, reason := h.health.Component(reporter.StorageComponent).IsReady(); !ready {
		t.Fatalf("outbox readiness after space is back: %q", reason)
	}
	if err := h.rep.StorageErr(); err != nil {
		t.Fatalf("StorageErr after space is back: %v", err)
	}
	want := eventKeys("m", 1, next+19)
	expectKeys(t, keys(orch.Items()), want)
	if p := orch.OrderProblems(); len(p) > 0 {
		t.Fatalf("order problems: %v", p)
	}
	if n := len(h.logged("outbox writes failing; producers wait and retry, delivery of stored items goes on")); n != 1 {
		t.Errorf("%d failure log lines for %d failed commits, want 1", n, failures)
	}
	if n := len(h.logged("outbox writes succeed again")); n != 1 {
		t.Errorf("%d recovery log lines, want 1", n)
	}
	if got := h.counter("claudette_reporter_outbox_commit_failures_total"); got < float64(failures) {
		t.Errorf("commit failures counted %v, want at least %d", got, failures)
	}

	// Nothing half-written: the log opens whole (no torn tail to cut off)
	// and holds nothing that was not delivered.
	h.stop(5 * time.Second)
	again := start(t, orch, fs.Dir)
	if n := len(again.logs.FilterMessageSnippet("cutting off").All()) + len(again.logs.FilterMessageSnippet("damaged").All()); n != 0 {
		t.Fatalf("the outbox written on a full disk was not whole at the next start (%d warnings)", n)
	}
	if got := again.counter("claudette_reporter_outbox_items"); got != 0 {
		t.Fatalf("restarted outbox holds %v items, want 0", got)
	}
	again.send(event("m", next+20, "after restart"))
	again.flush()
	expectKeys(t, keys(orch.Items()), append(want, fmt.Sprintf("m#%d", next+20)))
}
