package conversation

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

func usageOf(requests, input int64) *relay.Usage {
	return &relay.Usage{Requests: requests, Models: map[string]*relay.ModelUsage{"m": {InputTokens: input, Requests: requests}}}
}

// The conversation's total adds each turn once, also when a turn is answered
// again (after a restart), survives the store being reopened and goes with
// the workspace; a turn's own relay is opened with the total of the others.
func TestConversationSpend(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{store: st, log: zap.NewNop()}
	turn := func(id string, u *relay.Usage) *turnState {
		return newTurnState(&turnRecord{Turn: Turn{MessageID: id, WorkspaceID: "ws", ConversationID: "c"}, Usage: u})
	}
	var out outcome
	m.meterFinish(turn("m1", usageOf(1, 100)), &out)
	if out.usage == nil || out.usage.Requests != 1 {
		t.Fatalf("outcome usage %+v", out.usage)
	}
	m.meterFinish(turn("m1", usageOf(1, 100)), &outcome{}) // answered again
	m.meterFinish(turn("m2", usageOf(2, 50)), &outcome{})
	m.meterFinish(turn("m2", usageOf(3, 70)), &outcome{}) // again, having used more
	if got := m.meterState(turn("m3", nil)).Conversation.Tokens; got != 170 {
		t.Errorf("conversation total %d, want 170", got)
	}
	if got := m.meterState(turn("m2", nil)).Conversation.Tokens; got != 100 {
		t.Errorf("total without m2's share %d, want 100", got)
	}
	if s := m.meterState(turn("m4", usageOf(4, 9))); s.Used.Requests != 4 {
		t.Errorf("a re-opened turn's count %+v", s.Used)
	}
	st.close()

	st, err = openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	m.store = st
	if got := m.meterState(turn("m3", nil)).Conversation.Tokens; got != 170 {
		t.Errorf("after reopening: total %d, want 170", got)
	}
	if _, err := m.sessionFor(Turn{WorkspaceID: "ws", ConversationID: "c"}, ""); err != nil {
		t.Fatal(err)
	}
	if got := m.meterState(turn("m3", nil)).Conversation.Tokens; got != 170 {
		t.Errorf("after a new session id: total %d, want 170", got)
	}
	if err := st.deleteSessions("ws"); err != nil {
		t.Fatal(err)
	}
	if got := m.meterState(turn("m3", nil)).Conversation.Tokens; got != 0 {
		t.Errorf("after the workspace's deletion: total %d", got)
	}
	// A turn that never opened its relay has no relay in its answer.
	none := outcome{}
	m.meterFinish(turn("m5", nil), &none)
	if none.usage != nil {
		t.Errorf("usage %+v without a relay", none.usage)
	}
}

// A budget stop answers -32003 "budget: …" whose data is the result so far,
// status failed, with the relay's count; an error before the agent keeps the
// count in its data too.
func TestBudgetStopAnswer(t *testing.T) {
	out := outcome{conversationID: "c", tracker: tracked(initLine), cause: causeBudget, usage: usageOf(3, 10),
		status: sandbox.Status{Kind: sandbox.Cancelled, ExitCode: 143, CancelReason: "budget: the turn's token budget is spent (10 of 10 tokens)"}}
	resp := out.response(json.RawMessage(`"r"`))
	if resp.Error == nil || resp.Error.Code != rpc.CodeAgentFailed || !strings.HasPrefix(resp.Error.Message, "budget: the turn's token budget") {
		t.Fatalf("response %+v", resp.Error)
	}
	res, ok := resp.Error.Data.(Result)
	if !ok || res.Status != rpc.StatusFailed || res.Relay == nil || res.Relay.Requests != 3 || res.SessionID != "s-init" {
		t.Errorf("data %+v", resp.Error.Data)
	}

	m := &Manager{store: nil, log: zap.NewNop()}
	st, err := openStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	m.store = st
	gone := outcome{conversationID: "c", tracker: &streamTracker{}, err: rpc.Errorf(rpc.CodeAgentFailed, "agent failed: sandbox gone")}
	m.meterFinish(newTurnState(&turnRecord{Turn: Turn{MessageID: "x", WorkspaceID: "ws", ConversationID: "c"}, Usage: usageOf(2, 5)}), &gone)
	raw, _ := json.Marshal(gone.response(json.RawMessage(`"x"`)))
	if !strings.Contains(string(raw), `"relay":{"requests":2`) || !strings.Contains(string(raw), `"status":"failed"`) {
		t.Errorf("answer of a lost turn %s", raw)
	}
}
