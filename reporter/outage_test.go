package reporter_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// An orchestrator that fails every delivery for longer than UnreadyAfter
// turns /readyz not ready with the reason; the first accepted batch makes it
// ready again. The metrics give the streak and the last success.
func TestReadinessFollowsTheOrchestrator(t *testing.T) {
	orch := newOrchestrator(t)
	tn := fastTuning
	tn.UnreadyAfter = 300 * time.Millisecond
	h := start(t, orch, "", withTuning(tn))
	h.send(event("m-1", 1, "one"))
	h.flush()
	ready := func() (bool, string) { return h.health.Component(reporter.ReadinessComponent).IsReady() }
	if ok, why := ready(); !ok {
		t.Fatalf("not ready after a delivery: %s", why)
	}
	if h.counter("claudette_reporter_last_success_timestamp_seconds") <= 0 {
		t.Error("no last success time after a delivery")
	}

	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable, Body: "down for maintenance"})
	h.send(event("m-1", 2, "two"))
	h.waitUntil("not ready", func() bool { ok, _ := ready(); return !ok })
	if _, why := ready(); !strings.Contains(why, "every delivery to the orchestrator failed") || !strings.Contains(why, "HTTP 503") {
		t.Errorf("reason %q", why)
	}
	if h.counter("claudette_reporter_consecutive_failures") < 2 {
		t.Errorf("consecutive failures %v", h.counter("claudette_reporter_consecutive_failures"))
	}

	orch.SetDefault(orchestratortest.Reply{})
	h.flush()
	h.waitUntil("ready again", func() bool { ok, _ := ready(); return ok })
	if n := h.counter("claudette_reporter_consecutive_failures"); n != 0 {
		t.Errorf("consecutive failures %v after recovery", n)
	}
}
