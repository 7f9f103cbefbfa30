package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// conversation.cancel stops a running turn (its send gets -32005, its
// container goes) and removes a queued one (-32005 without ever running);
// cancelling nothing answers false.
func TestE2ECancelRunningAndQueuedTurns(t *testing.T) {
	e := newE2E(t, "cancel")
	e.send("msg-run", "ws-c", "conv-a", "PROBE sleep 120s", nil)
	e.waitEvent("msg-run", `"command":"PROBE sleep 120s"`) // the agent is in its sleep
	// Same workspace, another conversation: it waits behind the running turn.
	e.send("msg-queued", "ws-c", "conv-b", "never runs", nil)
	e.waitState("msg-queued", rpc.StateQueued)

	// The queued one first: the running turn is not touched.
	cancelled := e.call("cancel-b", "ws-c", rpc.MethodConversationCancel, map[string]any{"workspaceId": "ws-c", "conversationId": "conv-b"})
	if string(cancelled.Result) != `{"cancelled":true}` {
		t.Fatalf("cancel queued = %s %v", cancelled.Result, cancelled.Error)
	}
	rerr := wantError(t, e.response("msg-queued"), rpc.CodeCancelled)
	if got := statesOf(e.orch.Message("msg-queued")); !slices.Equal(got, []string{rpc.StateQueued, rpc.StateFinished}) {
		t.Errorf("queued turn states = %v, want queued, finished (%s)", got, rerr.Message)
	}
	if _, done := e.orch.Response("msg-run"); done {
		t.Fatal("cancelling conv-b answered the running conv-a")
	}

	cancelled = e.call("cancel-a", "ws-c", rpc.MethodConversationCancel, map[string]any{"workspaceId": "ws-c", "conversationId": "conv-a"})
	if string(cancelled.Result) != `{"cancelled":true}` {
		t.Fatalf("cancel running = %s %v", cancelled.Result, cancelled.Error)
	}
	rerr = wantError(t, e.response("msg-run"), rpc.CodeCancelled)
	var data sendResult
	if b, _ := json.Marshal(rerr.Data); json.Unmarshal(b, &data) != nil || data.Status != rpc.StatusCancelled || data.SessionID == "" {
		t.Errorf("cancelled turn's data = %v", rerr.Data)
	}
	if got := statesOf(e.orch.Message("msg-run")); !slices.Equal(got, []string{rpc.StateQueued, rpc.StatePreparing, rpc.StateRunning, rpc.StateFinished}) {
		t.Errorf("running turn states = %v", got)
	}
	e.checkDelivery("msg-run")
	e.checkDelivery("msg-queued")
	e.waitNoContainers()

	nothing := e.call("cancel-none", "ws-c", rpc.MethodConversationCancel, map[string]any{"workspaceId": "ws-c", "conversationId": "conv-a"})
	if string(nothing.Result) != `{"cancelled":false}` {
		t.Errorf("cancel with nothing to cancel = %s %v", nothing.Result, nothing.Error)
	}
}

// A turn over options.timeoutSeconds is stopped: -32004 with status timeout,
// and its container is removed.
func TestE2ETurnTimeout(t *testing.T) {
	e := newE2E(t, "timeout")
	e.send("msg-slow", "ws-t", "conv-t", "PROBE sleep 120s", map[string]any{"timeoutSeconds": 2})
	rerr := wantError(t, e.response("msg-slow"), rpc.CodeTimeout)
	var data sendResult
	if b, _ := json.Marshal(rerr.Data); json.Unmarshal(b, &data) != nil || data.Status != rpc.StatusTimeout {
		t.Errorf("timed-out turn's data = %v (%s)", rerr.Data, rerr.Message)
	}
	e.checkDelivery("msg-slow")
	e.waitNoContainers()
}

// Deleting the row of a message that has not started withdraws its turn (it
// is answered, never silently dropped); deleting the row of a running turn
// does not stop it.
func TestE2EDeletedRowWithdrawsAQueuedTurn(t *testing.T) {
	e := newE2E(t, "withdraw")
	e.send("msg-running", "ws-w", "conv-a", "PROBE sleep 120s", nil)
	e.waitEvent("msg-running", `"command":"PROBE sleep 120s"`)
	e.send("msg-withdrawn", "ws-w", "conv-b", "never runs", nil)
	e.waitState("msg-withdrawn", rpc.StateQueued)

	e.electric.Delete("msg-withdrawn")
	rerr := wantError(t, e.response("msg-withdrawn"), rpc.CodeCancelled)
	if !strings.Contains(rerr.Message, "withdrawn") {
		t.Errorf("withdrawn turn: %q", rerr.Message)
	}
	if got := statesOf(e.orch.Message("msg-withdrawn")); !slices.Equal(got, []string{rpc.StateQueued, rpc.StateFinished}) {
		t.Errorf("withdrawn turn states = %v", got)
	}

	e.electric.Delete("msg-running") // processed before the cancel below, in shape order
	e.call("cancel-a", "ws-w", rpc.MethodConversationCancel, map[string]any{"workspaceId": "ws-w", "conversationId": "conv-a"})
	rerr = wantError(t, e.response("msg-running"), rpc.CodeCancelled)
	if strings.Contains(rerr.Message, "withdrawn") {
		t.Errorf("the delete of a running turn's row withdrew it: %q", rerr.Message)
	}
	e.checkDelivery("msg-running")
	e.checkDelivery("msg-withdrawn")
	e.waitNoContainers()
}
