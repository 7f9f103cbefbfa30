package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// A second turn of the same conversation resumes the same Claude session:
// the fake agent's answer quotes turn 1's prompt from the session transcript.
// Both messages arrive at once; the second waits for the first.
func TestE2ESecondTurnResumesTheSession(t *testing.T) {
	e := newE2E(t, "resume")
	e.send("msg-r1", "ws-r", "conv-r", "Remember the word pineapple.", nil)
	e.send("msg-r2", "ws-r", "conv-r", "Which word did I ask you to remember?", nil)
	first := result(t, e.response("msg-r1"))
	second := result(t, e.response("msg-r2"))

	if first.Status != rpc.StatusCompleted || second.Status != rpc.StatusCompleted {
		t.Fatalf("statuses %s, %s", first.Status, second.Status)
	}
	if first.SessionID == "" || second.SessionID != first.SessionID {
		t.Errorf("session ids %q then %q, want the same", first.SessionID, second.SessionID)
	}
	if r := deref(first.Result); strings.Contains(r, "resumed session") {
		t.Errorf("turn 1 claims a resumed session: %q", r)
	}
	want := fmt.Sprintf("resumed session %s: turn 2, previous prompt: %q", first.SessionID, "Remember the word pineapple.")
	if r := deref(second.Result); !strings.Contains(r, want) {
		t.Errorf("turn 2 result %q lacks %q", r, want)
	}
	// Turn 2's init line announces the same session.
	for _, ev := range e.orch.Events("msg-r2")[:1] {
		if !strings.Contains(string(ev.Event), `"session_id":"`+first.SessionID+`"`) {
			t.Errorf("turn 2 init = %s", ev.Event)
		}
	}
	// One workspace runs one turn at a time: turn 2 ran after turn 1 finished.
	items := e.orch.Items()
	if f1, r2 := stateIndex(items, "msg-r1", rpc.StateFinished), stateIndex(items, "msg-r2", rpc.StatePreparing); f1 < 0 || r2 < f1 {
		t.Errorf("turn 2 prepared at item %d, turn 1 finished at item %d", r2, f1)
	}
	e.checkDelivery("msg-r1")
	e.checkDelivery("msg-r2")
}
