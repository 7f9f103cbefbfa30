package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// kill -9 of the runner while the agent sleeps mid-turn, then the same binary
// on the same data dir: the sandbox kept running, the new process re-attaches
// to it, the turn completes and every line reaches the orchestrator: no seq
// gap, a repeat only of the same (messageId, seq) with the same content, and
// the response once (or identical repeats) after the last event.
func TestE2EKill9MidTurnThenRestartLosesNothing(t *testing.T) {
	e := newE2E(t, "kill9")
	// The first sleep lets the runner record how far it relayed, so the
	// restart both skips lines and repeats the few sent since.
	prompt := "PROBE events 3 200\nPROBE sleep 1s\nPROBE events 5 200\nPROBE sleep 8s\nPROBE events 5 200"
	e.send("msg-k", "ws-k", "conv-k", prompt, nil)
	e.waitEvent("msg-k", `"command":"PROBE sleep 8s"`)
	before := len(e.orch.Events("msg-k"))

	e.kill9()
	if left := e.containers(); len(left) != 1 {
		t.Fatalf("after kill -9 the sandbox should still run, containers: %v", left)
	}
	e.start()

	res := result(t, e.response("msg-k"))
	if res.Status != rpc.StatusCompleted || res.ExitCode != 0 || !strings.Contains(deref(res.Result), "Ran 5 probes: 5 ok") || res.SessionID == "" {
		t.Errorf("result after restart = %+v (%s)", res, deref(res.Result))
	}
	e.checkDelivery("msg-k")

	events := e.orch.Events("msg-k")
	if len(events) <= before {
		t.Fatalf("no event after the restart: %d before, %d in all", before, len(events))
	}
	types := eventTypes(t, events)
	if types[0] != "system/init" || types[len(types)-1] != "result/success" {
		t.Errorf("event types = %v", types)
	}
	// Every line the agent printed arrived: 5 tool calls and their results,
	// 13 text events from the probes, the final text.
	var toolUses, toolResults, texts int
	for _, ev := range events {
		switch {
		case bytes.Contains(ev.Event, []byte(`"type":"tool_use"`)):
			toolUses++
		case bytes.Contains(ev.Event, []byte(`"type":"tool_result"`)):
			toolResults++
		case bytes.Contains(ev.Event, []byte(`"type":"assistant"`)):
			texts++
		}
	}
	if toolUses != 5 || toolResults != 5 || texts != 14 {
		t.Errorf("got %d tool calls, %d tool results, %d texts; want 5, 5, 14 (types %v)", toolUses, toolResults, texts, types)
	}
	states := statesOf(e.orch.Message("msg-k"))
	if !slices.Equal(states, []string{rpc.StateQueued, rpc.StatePreparing, rpc.StateRunning, rpc.StateFinished}) {
		t.Errorf("states = %v", states)
	}
	responses := 0
	for _, it := range e.orch.Items() {
		if it.IsResponse() && string(it.ID) == `"msg-k"` {
			responses++
		}
	}
	if responses < 1 {
		t.Error("no response")
	}
	e.waitNoContainers()

	// The restarted runner also takes new work, resuming the session.
	e.send("msg-k2", "ws-k", "conv-k", "and now?", nil)
	next := result(t, e.response("msg-k2"))
	if next.SessionID != res.SessionID || !strings.Contains(deref(next.Result), "resumed session "+res.SessionID) {
		t.Errorf("turn after restart: session %s, result %q", next.SessionID, deref(next.Result))
	}
	t.Logf("%d events, %d before the kill, repeated: %v", len(events), before, e.orch.Duplicates())
}

// kill -9 mid-turn, and the sandbox ends while the runner is down: the
// restarted runner reads the rest of its output from the engine and the
// turn completes as if nothing happened.
func TestE2EKill9AndTheSandboxEndsWhileDown(t *testing.T) {
	e := newE2E(t, "kill9ended")
	e.send("msg-e", "ws-e", "conv-e", "PROBE events 4 100\nPROBE sleep 1s\nPROBE events 2 100", nil)
	e.waitEvent("msg-e", `"command":"PROBE sleep 1s"`)
	e.kill9()
	e.waitContainersExited()
	e.start()

	res := result(t, e.response("msg-e"))
	if res.Status != rpc.StatusCompleted || res.ExitCode != 0 || !strings.Contains(deref(res.Result), "Ran 3 probes: 3 ok") {
		t.Errorf("result = %+v (%s)", res, deref(res.Result))
	}
	e.checkDelivery("msg-e")
	if types := eventTypes(t, e.orch.Events("msg-e")); types[len(types)-1] != "result/success" {
		t.Errorf("event types = %v", types)
	}
	e.waitNoContainers()
}

// kill -9 mid-turn, and the sandbox is gone when the runner comes back: the
// turn is answered -32003 saying the runner restarted (never silence), with a
// finished state whose seq none of the events delivered before had.
func TestE2EKill9AndTheSandboxIsGone(t *testing.T) {
	e := newE2E(t, "kill9gone")
	e.send("msg-g", "ws-g", "conv-g", "PROBE events 4 100\nPROBE sleep 120s", nil)
	e.waitEvent("msg-g", `"command":"PROBE sleep 120s"`)
	e.kill9()
	e.removeContainers()
	e.start()

	rerr := wantError(t, e.response("msg-g"), rpc.CodeAgentFailed)
	if !strings.Contains(rerr.Message, "restarted") {
		t.Errorf("answer = %q", rerr.Message)
	}
	e.checkDelivery("msg-g")
	if states := statesOf(e.orch.Message("msg-g")); states[len(states)-1] != rpc.StateFinished {
		t.Errorf("states = %v", states)
	}
	// The conversation goes on in the session the lost turn had started (its
	// transcript is in the workspace's agent state): resumed, not offered again.
	e.send("msg-g2", "ws-g", "conv-g", "hello", nil)
	if next := result(t, e.response("msg-g2")); !strings.Contains(deref(next.Result), "resumed session "+next.SessionID) {
		t.Errorf("turn after the lost one = %q", deref(next.Result))
	}
	e.waitNoContainers()
}
