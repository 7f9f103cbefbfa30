package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/relay/modeltest"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// meterModel is the model the metered turns ask for; one answer of it costs
// perAnswer budget tokens.
const meterModel = "claude-sonnet-test"

var perAnswer = modeltest.Tokens(meterModel).Spent()

// meterPrices is the prices file of the meter tests: meterModel by name,
// every other model by "default".
const meterPrices = `{"claude-sonnet-test":{"input":3,"output":15,"cacheCreation":3.75,"cacheRead":0.3},
 "default":{"input":1,"output":5,"cacheCreation":1.25,"cacheRead":0.1}}`

// relayOf is the `relay` of a response, a result or an error's data.
func relayOf(t *testing.T, it orchestratortest.Item) (relay.Usage, string) {
	t.Helper()
	raw := it.Result
	if it.Error != nil {
		raw, _ = json.Marshal(it.Error.Data)
	}
	var r struct {
		Status       string       `json:"status"`
		TotalCostUSD float64      `json:"totalCostUsd"`
		Relay        *relay.Usage `json:"relay"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Relay == nil {
		t.Fatalf("response %s has no relay: %s (%v)", it.ID, raw, err)
	}
	return *r.Relay, r.Status
}

// servedSince is what the fake served since an earlier snapshot.
type served struct {
	n      int64
	models map[string]modeltest.Usage
}

func snapshot(up *modeltest.Server) served {
	n, m := up.Served()
	return served{n, m}
}

// wantServed checks a turn's relay against what the fake served in between.
func wantServed(t *testing.T, what string, got relay.Usage, before, after served) {
	t.Helper()
	if got.Requests != after.n-before.n {
		t.Errorf("%s: relay requests %d, the fake served %d", what, got.Requests, after.n-before.n)
	}
	for model, a := range after.models {
		b := before.models[model]
		want := relay.ModelUsage{InputTokens: a.Input - b.Input, OutputTokens: a.Output - b.Output, CacheCreationInputTokens: a.CacheCreation - b.CacheCreation,
			CacheReadInputTokens: a.CacheRead - b.CacheRead, Requests: a.Requests - b.Requests}
		if want.Requests == 0 {
			continue
		}
		if g := got.Models[model]; g == nil || *g != want {
			t.Errorf("%s: model %s counted %+v, served %+v", what, model, g, want)
		}
	}
}

// The relay's count is the turn's model use, whatever the agent says: a
// turn's result carries what the fake API served (streamed, JSON, refused),
// with costUsd from the prices, although the agent reports its own false
// total_cost_usd; a turn killed before its result line still has it; a
// refused CONNECT is one egress_refused event; a turn budget of three
// answers stops the fourth with the 429 and fails the turn; and the
// conversation budget holds across two turns and a kill -9 of the runner in
// the middle of the second (which reports its whole count after the restart).
func TestE2EMeter(t *testing.T) {
	up := modeltest.New(t)
	t.Setenv("ANTHROPIC_BASE_URL", up.URL)
	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(meterPrices), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, "meter", "--model-prices", prices, "--max-conversation-tokens", fmt.Sprint(5*perAnswer),
		"--sandbox-egress-allow", "allowed.invalid")

	// 1. A completed turn: what was served, and its cost.
	before := snapshot(up)
	e.send("msg-m1", "ws-m1", "conv-m1", "PROBE messages "+meterModel+"\nPROBE messages claude-haiku-test json\nPROBE messages refuse-overloaded\n"+
		"PROBE http https://denied.invalid/\nPROBE http https://denied.invalid/again\n", nil)
	it := e.response("msg-m1")
	res := result(t, it)
	got, _ := relayOf(t, it)
	wantServed(t, "completed turn", got, before, snapshot(up))
	s, h := modeltest.Tokens(meterModel), modeltest.Tokens("claude-haiku-test")
	wantCost := (float64(s.Input)*3+float64(s.Output)*15+float64(s.CacheCreation)*3.75+float64(s.CacheRead)*0.3)/1e6 +
		(float64(h.Input)*1+float64(h.Output)*5+float64(h.CacheCreation)*1.25+float64(h.CacheRead)*0.1)/1e6
	if res.Status != rpc.StatusCompleted || got.CostUSD == nil || fmt.Sprintf("%.9f", *got.CostUSD) != fmt.Sprintf("%.9f", wantCost) {
		t.Errorf("completed turn: status %s, costUsd %v, want %v", res.Status, got.CostUSD, wantCost)
	}
	if res.TotalCostUSD == wantCost {
		t.Error("the agent's own total_cost_usd should differ from the relay's (it invents its own)")
	}
	var refused []map[string]any
	for _, ev := range e.orch.Events("msg-m1") {
		var m map[string]any
		if json.Unmarshal(ev.Event, &m) == nil && m["type"] == "runner" && m["subtype"] == rpc.RunnerEgressRefused {
			refused = append(refused, m)
		}
	}
	if len(refused) != 1 || refused[0]["host"] != "denied.invalid" || refused[0]["port"] != float64(443) || refused[0]["reason"] != "host_not_allowed" {
		t.Errorf("egress_refused events %v, want one for denied.invalid:443", refused)
	}

	// 2. Killed before its result line: the count is still there.
	before = snapshot(up)
	e.send("msg-m2", "ws-m2", "conv-m2", "PROBE messages "+meterModel+"\nPROBE messages claude-other json\nPROBE exit 9\n", nil)
	it = e.response("msg-m2")
	wantError(t, it, rpc.CodeAgentFailed)
	got, status := relayOf(t, it)
	wantServed(t, "killed turn", got, before, snapshot(up))
	if status != rpc.StatusFailed || got.Requests != 2 {
		t.Errorf("killed turn: status %s, relay %+v", status, got)
	}

	// 3. A turn budget of three answers: the fourth request gets the 429.
	before = snapshot(up)
	prompt := strings.Repeat("PROBE messages "+meterModel+"\n", 4) + "PROBE sleep 60\n"
	e.send("msg-m3", "ws-m3", "conv-m3", prompt, map[string]any{"maxTokens": 3 * perAnswer})
	it = e.response("msg-m3")
	rerr := wantError(t, it, rpc.CodeAgentFailed)
	got, status = relayOf(t, it)
	after := snapshot(up)
	if after.n-before.n != 3 || got.Requests != 3 || status != rpc.StatusFailed || !strings.Contains(rerr.Message, "budget: the turn's token budget") {
		t.Errorf("turn budget: served %d, relay %+v, status %s, message %q", after.n-before.n, got, status, rerr.Message)
	}
	wantBudgetEvent(t, e, "msg-m3", relay.BudgetTurnTokens, 3*perAnswer)
	if f := e.findingsOf("msg-m3"); len(f) >= 4 && (f[3]["status"] != float64(429) || f[3]["error_type"] != "rate_limit_error") {
		t.Errorf("the fourth request: %v", f[3])
	}

	// 4. The conversation budget (5 answers) across two turns and a restart.
	e.send("msg-m4", "ws-m4", "conv-m4", strings.Repeat("PROBE messages "+meterModel+"\n", 3), nil)
	if r := result(t, e.response("msg-m4")); r.Status != rpc.StatusCompleted {
		t.Fatalf("first turn of the conversation: %+v", r)
	}
	before = snapshot(up)
	e.send("msg-m5", "ws-m4", "conv-m4", "PROBE messages "+meterModel+"\nPROBE sleep 8s\nPROBE messages "+meterModel+"\nPROBE messages "+meterModel+"\nPROBE sleep 60\n", nil)
	e.waitEvent("msg-m5", `"command":"PROBE sleep 8s"`)
	pong := e.call("ping-m", "", rpc.MethodRunnerPing, nil)
	var st rpc.RunnerStatus
	if err := json.Unmarshal(pong.Result, &st); err != nil || st.Tokens == nil || st.Tokens.Requests != 1 || st.Tokens.Input != s.Input || st.Tokens.CostUSD == nil {
		t.Errorf("runner.ping while the turn runs: %s", pong.Result)
	}
	e.kill9()
	e.start()
	it = e.response("msg-m5")
	rerr = wantError(t, it, rpc.CodeAgentFailed)
	got, _ = relayOf(t, it)
	after = snapshot(up)
	if after.n-before.n != 2 || got.Requests != 2 || !strings.Contains(rerr.Message, "budget: the conversation's token budget") {
		t.Errorf("conversation budget: served %d, relay %+v (want the whole turn's 2), message %q", after.n-before.n, got, rerr.Message)
	}
	wantServed(t, "re-attached turn", got, before, after)
	wantBudgetEvent(t, e, "msg-m5", relay.BudgetConversationTokens, 5*perAnswer)

	// The conversation's series go with its workspace.
	if !strings.Contains(e.metrics(t), `conversation_id="conv-m4"`) {
		t.Error("no series of conv-m4 before the delete")
	}
	e.call("del-m4", "ws-m4", rpc.MethodWorkspaceDelete, map[string]any{"workspaceId": "ws-m4"})
	if strings.Contains(e.metrics(t), `workspace_id="ws-m4"`) {
		t.Error("series of ws-m4 left after workspace.delete")
	}
	e.waitNoContainers()
}

func (e *e2e) metrics(t *testing.T) string {
	t.Helper()
	_, body, err := e.d.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// wantBudgetEvent checks the one budget_exhausted event of a message.
func wantBudgetEvent(t *testing.T, e *e2e, msgID, budget string, limit int64) {
	t.Helper()
	var got []map[string]any
	for _, ev := range e.orch.Events(msgID) {
		var m map[string]any
		if json.Unmarshal(ev.Event, &m) == nil && m["type"] == "runner" && m["subtype"] == rpc.RunnerBudgetExhausted {
			got = append(got, m)
		}
	}
	if len(got) != 1 || got[0]["budget"] != budget || got[0]["limit"] != float64(limit) || got[0]["used"] != float64(limit) {
		t.Errorf("%s: budget events %v, want one %s at %d", msgID, got, budget, limit)
	}
}
