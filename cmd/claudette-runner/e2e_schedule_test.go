package main

import (
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// With --max-concurrent 1, turns of two workspaces run one after the other:
// the second starts preparing only once the first has finished. The outbox
// keeps the runner's order, so the recorded order of states is the order in
// which things happened.
func TestE2EMaxConcurrentOneRunsWorkspacesInTurn(t *testing.T) {
	e := newE2E(t, "serial", "--max-concurrent", "1")
	e.send("msg-a", "ws-a", "conv-a", "PROBE sleep 1s", nil)
	e.send("msg-b", "ws-b", "conv-b", "PROBE sleep 1s", nil)
	for _, id := range []string{"msg-a", "msg-b"} {
		if res := result(t, e.response(id)); res.Status != rpc.StatusCompleted {
			t.Errorf("%s: status %s", id, res.Status)
		}
		e.checkDelivery(id)
	}
	items := e.orch.Items()
	first, second := "msg-a", "msg-b"
	if stateIndex(items, "msg-b", rpc.StatePreparing) < stateIndex(items, "msg-a", rpc.StatePreparing) {
		first, second = second, first
	}
	checkAfter(t, items, first, second)
	// Both were queued before either ran: the second really waited for a slot.
	if q, p := stateIndex(items, second, rpc.StateQueued), stateIndex(items, first, rpc.StateFinished); q > p {
		t.Errorf("%s was queued (item %d) only after %s finished (item %d): nothing was tested", second, q, first, p)
	}
}

// Turns of one workspace never overlap, even with free slots, while another
// workspace's turn runs beside them.
func TestE2EOneWorkspaceRunsOneTurnAtATime(t *testing.T) {
	e := newE2E(t, "perws", "--max-concurrent", "3")
	e.send("msg-1", "ws-x", "conv-1", "PROBE sleep 3s", nil)
	e.send("msg-2", "ws-x", "conv-2", "PROBE sleep 1s", nil)
	e.send("msg-3", "ws-x", "conv-1", "PROBE sleep 1s", nil)
	e.send("msg-other", "ws-y", "conv-1", "PROBE sleep 1s", nil)
	for _, id := range []string{"msg-1", "msg-2", "msg-3", "msg-other"} {
		if res := result(t, e.response(id)); res.Status != rpc.StatusCompleted {
			t.Errorf("%s: status %s", id, res.Status)
		}
		e.checkDelivery(id)
	}
	items := e.orch.Items()
	// Arrival order within the workspace.
	checkAfter(t, items, "msg-1", "msg-2")
	checkAfter(t, items, "msg-2", "msg-3")
	// The other workspace was not held back: it started before ws-x's first turn finished.
	if p, f := stateIndex(items, "msg-other", rpc.StateRunning), stateIndex(items, "msg-1", rpc.StateFinished); p > f {
		t.Errorf("ws-y started running at item %d, after ws-x's first turn finished at item %d", p, f)
	}
}

// checkAfter asserts that second started preparing after first finished.
func checkAfter(t *testing.T, items []orchestratortest.Item, first, second string) {
	t.Helper()
	f, p := stateIndex(items, first, rpc.StateFinished), stateIndex(items, second, rpc.StatePreparing)
	if f < 0 || p < 0 || p < f {
		t.Errorf("%s prepared at item %d, before %s finished at item %d: the turns overlapped", second, p, first, f)
	}
}
