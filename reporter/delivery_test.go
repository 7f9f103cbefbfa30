package reporter_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
)

// Several producers send the states, events and final response of their own
// message concurrently, in chunks: every message arrives in seq order, its
// response after its last event, batches stay within their bounds, and no
// key arrives twice.
func TestOrderAndBatching(t *testing.T) {
	orch := newOrchestrator(t)
	tn := fastTuning
	tn.BatchItems = 25
	tn.BatchBytes = 8 << 10
	h := start(t, orch, "", withTuning(tn))

	const producers, perMessage = 4, 300
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("m-%d", p)
			if err := h.rep.Send(context.Background(), state(msg, 1, rpc.StateQueued), state(msg, 2, rpc.StateRunning)); err != nil {
				t.Errorf("send states: %v", err)
				return
			}
			all := events(msg, 3, perMessage)
			for i, chunk := 0, 1; i < len(all); i, chunk = i+chunk, chunk%17+1 {
				if err := h.rep.Send(context.Background(), all[i:min(i+chunk, len(all))]...); err != nil {
					t.Errorf("send events: %v", err)
					return
				}
			}
			if err := h.rep.Send(context.Background(), state(msg, perMessage+1, rpc.StateFinished), response("req-"+msg)); err != nil {
				t.Errorf("send final: %v", err)
			}
		}()
	}
	wg.Wait()
	h.flush()

	if p := orch.OrderProblems(); len(p) > 0 {
		t.Fatalf("order problems: %v", p)
	}
	if d := orch.Duplicates(); len(d) > 0 {
		t.Fatalf("duplicates without any failure: %v", d)
	}
	for p := range producers {
		msg := fmt.Sprintf("m-%d", p)
		if got := orch.Message(msg); len(got) != perMessage+1 {
			t.Errorf("message %s: %d events and states, want %d", msg, len(got), perMessage+1)
		}
		if got := orch.Events(msg); len(got) != perMessage-2 || got[0].Seq != 3 || got[len(got)-1].Seq != perMessage {
			t.Errorf("message %s: events %d..%d (%d), want 3..%d", msg, got[0].Seq, got[len(got)-1].Seq, len(got), perMessage)
		}
		if err := orch.ResponseFollowsEvents("req-"+msg, msg); err != nil {
			t.Error(err)
		}
		resp, ok := orch.Response("req-" + msg)
		if !ok || !strings.Contains(string(resp.Result), rpc.StatusCompleted) {
			t.Errorf("response to req-%s: %+v", msg, resp)
		}
	}
	reqs := orch.Requests()
	items := 0
	for _, r := range reqs {
		items += len(r.Items)
		if len(r.Items) > tn.BatchItems+1 { // +1: a heartbeat may ride along
			t.Errorf("request %d carries %d items, bound %d", r.Index, len(r.Items), tn.BatchItems)
		}
		if len(r.Items) > 1 && len(r.Body) > tn.BatchBytes+512 {
			t.Errorf("request %d is %d bytes, bound %d", r.Index, len(r.Body), tn.BatchBytes)
		}
	}
	if len(reqs) >= items/5 {
		t.Errorf("%d requests for %d items: batching does not happen", len(reqs), items)
	}
	if got, want := h.counter("claudette_reporter_items_delivered_total"), float64(producers*(perMessage+2)); got != want {
		t.Errorf("delivered metric %v, want %v", got, want)
	}
	if got := h.counter("claudette_reporter_outbox_items"); got != 0 {
		t.Errorf("outbox items after flush: %v", got)
	}
}

// The items of one Send are stored together: they arrive next to each other,
// even when other producers send at the same time.
func TestOneSendStaysTogether(t *testing.T) {
	orch := newOrchestrator(t)
	h := start(t, orch, "")
	var wg sync.WaitGroup
	for p := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("g-%d", p)
			for c := range int64(20) {
				if err := h.rep.Send(context.Background(), events(msg, c*10+1, c*10+10)...); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h.flush()
	items := orch.Items()
	for i := 0; i < len(items); i++ {
		it := items[i]
		if it.Event == nil || it.Event.Seq%10 != 1 {
			continue
		}
		for j := 1; j < 10; j++ {
			next := items[i+j]
			if next.Event == nil || next.Event.MessageID != it.Event.MessageID || next.Event.Seq != it.Event.Seq+int64(j) {
				t.Fatalf("send of %s seq %d..%d was split: item %d is %s", it.Event.MessageID, it.Event.Seq, it.Event.Seq+9, i+j, next.Key())
			}
		}
	}
	if got := len(keys(items)); got != 6*200 {
		t.Fatalf("%d items delivered, want %d", got, 6*200)
	}
}

// Stop delivers what is queued before it returns; later sends are refused.
func TestStopFlushesAndThenRefuses(t *testing.T) {
	orch := newOrchestrator(t)
	h := build(t, orch, "")
	if err := h.rep.Send(context.Background(), event("m", 1, "x")); !errors.Is(err, reporter.ErrClosed) {
		t.Fatalf("send before start: %v, want ErrClosed", err)
	}
	h.startNow()
	h.send(events("m", 1, 50)...)
	if err := h.rep.Respond(context.Background(), rpc.Failure(nil, rpc.Errorf(rpc.CodeShuttingDown, "runner shutting down"))); err != nil {
		t.Fatalf("respond: %v", err)
	}
	h.stop(waitLong)
	expectKeys(t, keys(orch.Items()), append(eventKeys("m", 1, 50), "response null"))
	if r, _ := orch.Response("null"); r.Error == nil || r.Error.Code != rpc.CodeShuttingDown {
		t.Fatalf("response: %+v", r)
	}
	if err := h.rep.Send(context.Background(), event("m", 51, "late")); !errors.Is(err, reporter.ErrClosed) {
		t.Fatalf("send after stop: %v, want ErrClosed", err)
	}
	if ready, reason := h.health.Component(reporter.ReadinessComponent).IsReady(); ready {
		t.Fatalf("ready after stop (%s)", reason)
	}
}

// An item that cannot be encoded is refused before anything of its Send is stored.
func TestSendRefusesBadItems(t *testing.T) {
	orch := newOrchestrator(t)
	h := start(t, orch, "")
	bad := reporter.Event(rpc.EventParams{MessageID: "m", Seq: 2, Event: []byte(`{"type":`)})
	if err := h.rep.Send(context.Background(), event("m", 1, "ok"), bad); err == nil {
		t.Fatal("send with an invalid event succeeded")
	}
	if err := h.rep.Send(context.Background(), reporter.Item{}); err == nil {
		t.Fatal("send of a zero item succeeded")
	}
	h.send(event("m", 1, "ok"))
	h.flush()
	expectKeys(t, keys(orch.Items()), []string{"m#1"})
}
