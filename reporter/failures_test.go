package reporter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// An outage (503s with Retry-After, 429, 408, dropped connections, then
// connection refused) followed by recovery loses nothing and keeps order.
func TestOutageThenRecoveryLosesNothing(t *testing.T) {
	orch := newOrchestrator(t)
	// A password in the URL must not reach the logs either.
	u := strings.Replace(orch.URL, "http://", "http://user:"+testToken+"@", 1)
	h := start(t, orch, "", withConfig(func(c *config.Config) { c.OrchestratorURL = u }))
	h.waitHeartbeat()

	h.send(events("m", 1, 20)...)
	h.flush()
	orch.Script(
		orchestratortest.Reply{Status: http.StatusServiceUnavailable, RetryAfter: "0"},
		orchestratortest.Reply{Status: http.StatusTooManyRequests},
		orchestratortest.Reply{Status: http.StatusRequestTimeout},
		orchestratortest.Reply{Drop: true},
		orchestratortest.Reply{Status: http.StatusBadGateway, Body: "upstream down"},
	)
	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})
	h.send(events("m", 21, 40)...)
	orch.WaitRequests(t, waitLong, func(reqs []orchestratortest.Request) bool { return len(reqs) >= 10 })

	orch.Down()
	retries := h.requestsWith("retry")
	h.send(events("m", 41, 60)...)
	h.send(response("req-m"))
	h.waitUntil("retries against a closed port", func() bool { return h.requestsWith("retry") >= retries+3 })

	orch.SetDefault(orchestratortest.Reply{})
	orch.Up(t)
	h.flush()

	if p := orch.OrderProblems(); len(p) > 0 {
		t.Fatalf("order problems: %v", p)
	}
	expectKeys(t, keys(orch.Items()), append(eventKeys("m", 1, 60), `response "req-m"`))
	if err := orch.ResponseFollowsEvents("req-m", "m"); err != nil {
		t.Fatal(err)
	}
	if h.counter("claudette_reporter_items_retried_total") == 0 {
		t.Error("no retried items counted")
	}
	if ready, reason := h.health.Component(reporter.ReadinessComponent).IsReady(); !ready {
		t.Errorf("not ready after recovery: %s", reason)
	}
	if len(h.logged("orchestrator did not take the batch; retrying")) == 0 {
		t.Error("retries were not logged")
	}
}

// A 400 sets the batch aside as a dead-letter file, logs the answer, and
// delivery goes on with the next items.
func TestRejectedBatchGoesToDeadLetter(t *testing.T) {
	orch := newOrchestrator(t)
	h := start(t, orch, "")
	h.waitHeartbeat()

	orch.Script(orchestratortest.Reply{Status: http.StatusBadRequest, Body: `{"error":"seq 2 is malformed"}`})
	h.send(events("bad", 1, 3)...)
	h.flush()
	h.send(events("good", 1, 3)...)
	h.flush()

	expectKeys(t, keys(orch.Items()), eventKeys("good", 1, 3))
	files, err := filepath.Glob(filepath.Join(h.cfg.DataDir, "deadletter", "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("dead-letter files: %v, %v", files, err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var batch []struct {
		Method string `json:"method"`
		Params struct {
			MessageID string `json:"messageId"`
			Seq       int64  `json:"seq"`
		} `json:"params"`
	}
	if err := json.Unmarshal(raw, &batch); err != nil {
		t.Fatalf("dead letter is not the JSON batch: %v: %s", err, raw)
	}
	if len(batch) != 3 || batch[0].Params.MessageID != "bad" || batch[2].Params.Seq != 3 {
		t.Fatalf("dead letter holds %s", raw)
	}
	if got := h.counter("claudette_reporter_items_dead_lettered_total"); got != 3 {
		t.Errorf("dead-lettered metric %v, want 3", got)
	}
	entries := h.logged("orchestrator rejected a batch; set aside as a dead letter, delivery goes on")
	if len(entries) != 1 || !strings.Contains(entries[0].ContextMap()["response"].(string), "seq 2 is malformed") {
		t.Errorf("rejection log entries: %+v", entries)
	}
}

// 401 and 403 keep the data, make the runner not ready with a clear cause,
// and delivery resumes when the orchestrator accepts the token again.
func TestUnauthorizedKeepsDataAndFailsReadiness(t *testing.T) {
	orch := newOrchestrator(t)
	orch.SetToken("another-token")
	h := start(t, orch, "")
	h.send(events("m", 1, 10)...)
	orch.WaitRequests(t, waitLong, func(reqs []orchestratortest.Request) bool { return len(reqs) >= 3 })

	comp := h.health.Component(reporter.ReadinessComponent)
	ready, reason := comp.IsReady()
	if ready || !strings.Contains(reason, "401") || !strings.Contains(reason, "CLAUDETTE_RUNNER_TOKEN") {
		t.Fatalf("readiness after 401: ready=%v reason=%q", ready, reason)
	}
	if n := len(orch.Items()); n != 0 {
		t.Fatalf("%d items accepted with a bad token", n)
	}

	orch.SetToken(testToken)
	orch.Script(orchestratortest.Reply{Status: http.StatusForbidden})
	h.send(events("m", 11, 20)...)
	h.flush()
	expectKeys(t, keys(orch.Items()), eventKeys("m", 1, 20))
	if ready, reason := comp.IsReady(); !ready {
		t.Fatalf("not ready after the token was accepted: %s", reason)
	}
	saw403 := false
	for _, r := range orch.Requests() {
		saw403 = saw403 || r.Reply.Status == http.StatusForbidden
	}
	if !saw403 {
		t.Error("the scripted 403 was never used")
	}
	if got := h.counter("claudette_reporter_items_dead_lettered_total"); got != 0 {
		t.Errorf("%v items dead-lettered on 401/403", got)
	}
}

// A 10 MiB event is delivered, alone in its batch, between its neighbours.
func TestLargeEventIsDelivered(t *testing.T) {
	orch := newOrchestrator(t)
	h := start(t, orch, "")
	big := strings.Repeat("x", 10<<20)
	h.send(event("m", 1, "before"), event("m", 2, big), event("m", 3, "after"))
	h.flush()

	expectKeys(t, keys(orch.Items()), eventKeys("m", 1, 3))
	ev := orch.Events("m")[1]
	var got struct{ Text string }
	if err := json.Unmarshal(ev.Event, &got); err != nil || got.Text != big {
		t.Fatalf("10 MiB event arrived with %d bytes of text (%v)", len(got.Text), err)
	}
	carried := 0
	for _, r := range orch.Requests() {
		if len(r.Body) <= 10<<20 {
			continue
		}
		carried++
		items := 0 // a heartbeat may ride along
		for _, it := range r.Items {
			if it.Heartbeat == nil {
				items++
			}
		}
		if items != 1 {
			t.Errorf("the big event shared request %d with %d other items", r.Index, items-1)
		}
	}
	if carried == 0 {
		t.Error("no request carried the big event")
	}
}

// Over its size bound the outbox makes producers wait (with a warning and a
// metric) until delivery makes room again.
func TestBackpressureWhenOutboxIsFull(t *testing.T) {
	orch := newOrchestrator(t)
	h := start(t, orch, "", withConfig(func(c *config.Config) { c.Outbox.MaxSize = 32 << 10 }))
	h.waitHeartbeat()
	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})

	for seq := int64(1); h.counter("claudette_reporter_outbox_bytes") <= 32<<10; seq++ {
		h.send(event("m", seq, strings.Repeat("y", 1000)))
	}
	sent := int64(h.counter("claudette_reporter_outbox_items"))

	ctx, cancel := context.WithTimeout(context.Background(), 50e6)
	err := h.rep.Send(ctx, event("m", sent+1, "waits"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send over the bound: %v, want a wait ended by the deadline", err)
	}
	if len(h.logged("outbox over its size bound: producers wait for delivery")) != 1 {
		t.Error("no warning when producers started to wait")
	}

	done := make(chan error, 1)
	go func() { done <- h.rep.Send(context.Background(), event("m", sent+1, "waits")) }()
	h.waitUntil("a waiting producer", func() bool { return h.counter("claudette_reporter_backpressure_waiting") == 1 })
	orch.SetDefault(orchestratortest.Reply{})
	if err := <-done; err != nil {
		t.Fatalf("waiting send: %v", err)
	}
	h.flush()
	expectKeys(t, keys(orch.Items()), eventKeys("m", 1, sent+1))
	if h.counter("claudette_reporter_backpressure_waits_total") < 2 {
		t.Error("waits not counted")
	}
}
