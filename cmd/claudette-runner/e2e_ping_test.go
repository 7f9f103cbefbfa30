package main

import (
	"encoding/json"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/version"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// runner.ping answers the runner's load; runner.heartbeat notifications
// arrive on their interval and say the same.
func TestE2EPingAndHeartbeats(t *testing.T) {
	e := newE2E(t, "ping", "--max-concurrent", "1")
	e.send("msg-busy", "ws-p", "conv-p", "PROBE sleep 120s", nil)
	e.waitEvent("msg-busy", `"command":"PROBE sleep 120s"`)
	e.send("msg-wait", "ws-q", "conv-q", "waits for the slot", nil)
	e.waitState("msg-wait", rpc.StateQueued)

	pong := e.call("ping-1", "", rpc.MethodRunnerPing, map[string]any{})
	var st rpc.RunnerStatus
	if pong.Error != nil || json.Unmarshal(pong.Result, &st) != nil {
		t.Fatalf("runner.ping = %s %v", pong.Result, pong.Error)
	}
	want := rpc.RunnerStatus{RunnerID: e.runnerID, Version: version.Version, Active: 1, Queued: 1, Capacity: 1}
	if st.Tokens == nil || *st.Tokens != (rpc.TokenCounts{}) {
		t.Errorf("runner.ping tokens = %+v, want zeros (the running turn made no model call)", st.Tokens)
	}
	st.Tokens = nil
	if st != want {
		t.Errorf("runner.ping = %+v, want %+v", st, want)
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(pong.Result, &fields)
	for _, k := range []string{"runnerId", "version", "active", "queued", "capacity", "tokens"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("runner.ping result lacks %q: %s", k, pong.Result)
		}
	}

	// Heartbeats keep coming (1s interval) and report the same load.
	e.orch.WaitFor(t, e2eWait, func(items []orchestratortest.Item) bool {
		busy := 0
		for _, it := range items {
			if hb := it.Heartbeat; hb != nil && hb.Tokens != nil && hb.RunnerID == e.runnerID && hb.Capacity == 1 && hb.Active == 1 && hb.Queued == 1 {
				busy++
			}
		}
		return busy >= 2
	})

	e.call("cancel-q", "ws-q", rpc.MethodConversationCancel, map[string]any{"workspaceId": "ws-q", "conversationId": "conv-q"})
	e.call("cancel-p", "ws-p", rpc.MethodConversationCancel, map[string]any{"workspaceId": "ws-p", "conversationId": "conv-p"})
	wantError(t, e.response("msg-busy"), rpc.CodeCancelled)
	wantError(t, e.response("msg-wait"), rpc.CodeCancelled)
	idle := e.call("ping-2", "", rpc.MethodRunnerPing, nil)
	if err := json.Unmarshal(idle.Result, &st); err != nil || st.Active != 0 || st.Queued != 0 {
		t.Errorf("runner.ping when idle = %s %v", idle.Result, idle.Error)
	}
	e.waitNoContainers()
}
