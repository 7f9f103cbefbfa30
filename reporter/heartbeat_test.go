package reporter_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// Heartbeats carry the status function's figures with the runner's id and
// version, through the same pipe as the items.
func TestHeartbeatCarriesStatus(t *testing.T) {
	orch := newOrchestrator(t)
	h := build(t, orch, "", withConfig(func(c *config.Config) { c.Outbox.HeartbeatInterval = 10 * time.Millisecond }))
	h.rep.SetStatus(func() rpc.RunnerStatus { return rpc.RunnerStatus{Active: 2, Queued: 1, Capacity: 4} })
	h.startNow()
	orch.WaitFor(t, waitLong, func([]orchestratortest.Item) bool { return len(orch.Heartbeats()) >= 3 })
	for _, hb := range orch.Heartbeats() {
		want := rpc.RunnerStatus{RunnerID: testRunnerID, Version: "v-test", Active: 2, Queued: 1, Capacity: 4}
		if hb != want {
			t.Fatalf("heartbeat %+v, want %+v", hb, want)
		}
	}
}

// Without a status function a heartbeat reports no work and the configured capacity.
func TestHeartbeatDefaultsToConfiguredCapacity(t *testing.T) {
	orch := newOrchestrator(t)
	h := start(t, orch, "", withConfig(func(c *config.Config) { c.MaxConcurrent = 7 }))
	h.waitHeartbeat()
	hb := orch.Heartbeats()[0]
	if hb.Capacity != 7 || hb.Active != 0 || hb.RunnerID != testRunnerID {
		t.Fatalf("heartbeat %+v", hb)
	}
}

// Heartbeats do not pile up during an outage: after it only the latest one is sent.
func TestHeartbeatsDoNotPileUp(t *testing.T) {
	orch := newOrchestrator(t)
	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})
	h := start(t, orch, "", withConfig(func(c *config.Config) { c.Outbox.HeartbeatInterval = 5 * time.Millisecond }))
	orch.WaitRequests(t, waitLong, func(reqs []orchestratortest.Request) bool { return len(reqs) >= 8 })
	h.send(events("m", 1, 5)...)
	orch.SetDefault(orchestratortest.Reply{})
	h.flush()
	for _, r := range orch.Requests() {
		n := 0
		for _, it := range r.Items {
			if it.Heartbeat != nil {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("request %d carries %d heartbeats", r.Index, n)
		}
	}
	expectKeys(t, keys(orch.Items()), eventKeys("m", 1, 5))
}
