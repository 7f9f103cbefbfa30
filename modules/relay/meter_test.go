package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/relay/modeltest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// events collects a turn's runner events and its stop reasons.
type events struct {
	mu    sync.Mutex
	evs   []map[string]any
	stops []string
}

func (e *events) notify(ev json.RawMessage) {
	var m map[string]any
	_ = json.Unmarshal(ev, &m)
	e.mu.Lock()
	e.evs = append(e.evs, m)
	e.mu.Unlock()
}

func (e *events) stop(reason string) {
	e.mu.Lock()
	e.stops = append(e.stops, reason)
	e.mu.Unlock()
}

func (e *events) of(subtype string) []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []map[string]any
	for _, ev := range e.evs {
		if ev["type"] == "runner" && ev["subtype"] == subtype {
			out = append(out, ev)
		}
	}
	return out
}

// openMetered opens a turn of ws-1/c-1 with a meter state, its events
// collected.
func (f *fixture) openMetered(t *testing.T, st MeterState) (*Access, *events) {
	t.Helper()
	ev := &events{}
	st.Stop = ev.stop
	a, err := f.r.Open(context.Background(), Turn{MessageID: "msg-" + randHex(4), WorkspaceID: "ws-1", ConversationID: "c-1",
		Notify: ev.notify, Meter: st})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(a.Close)
	return a, ev
}

// ask makes one Messages call for model through the turn's socket and
// returns the status and the body.
func ask(t *testing.T, a *Access, model string, stream bool) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"model":%q,"max_tokens":64,"stream":%v,"messages":[{"role":"user","content":[{"type":"tool_result","content":"{\"model\":\"decoy\"}"}]}],"tools":[{"name":"Task","input_schema":{"properties":{"model":{"type":"string"}}}}]}`, model, stream)
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4141/v1/messages?beta=true", strings.NewReader(body))
	req.Header.Set("X-Api-Key", a.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := socketClient(socketOf(a, modelSocket)).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", model, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body) // a cut stream ends in an error: what came is enough
	return resp.StatusCode, string(got)
}

// wantUsage compares the relay's count with what the fake served.
func wantUsage(t *testing.T, got Usage, up *modeltest.Server) {
	t.Helper()
	n, served := up.Served()
	if got.Requests != n {
		t.Errorf("requests %d, the upstream served %d", got.Requests, n)
	}
	if len(got.Models) != len(served) {
		t.Errorf("models %v, served %v", keys(got.Models), served)
	}
	for model, s := range served {
		g := got.Models[model]
		if g == nil {
			t.Errorf("model %s missing", model)
			continue
		}
		if *g != (ModelUsage{InputTokens: s.Input, OutputTokens: s.Output, CacheCreationInputTokens: s.CacheCreation,
			CacheReadInputTokens: s.CacheRead, Requests: s.Requests}) {
			t.Errorf("model %s: counted %+v, served %+v", model, *g, s)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The relay counts what the upstream served, per model: streamed and JSON
// answers with cache tokens, a refused request and a cut stream (requests
// with no tokens); the model comes from the response, else the request's
// top-level "model" (not one deeper in the body). Metrics carry the model
// and kind; a re-opened turn starts from the count it had.
func TestMeterCountsWhatTheUpstreamServed(t *testing.T) {
	up := modeltest.New(t)
	f := startRelay(t, testConfig(t, up.URL))
	a, _ := f.openMetered(t, MeterState{})
	for _, c := range []struct {
		model  string
		stream bool
		status int
	}{
		{"claude-sonnet-test", true, 200}, {"claude-sonnet-test", true, 200}, {"claude-haiku-test-2", false, 200},
		{"claude-haiku-test-2", true, 200}, {"refuse-overloaded", true, 529}, {"cut-midway", true, 200},
	} {
		if status, body := ask(t, a, c.model, c.stream); status != c.status {
			t.Errorf("%s: %d %s, want %d", c.model, status, body, c.status)
		}
	}
	got := a.Usage()
	wantUsage(t, got, up)
	if got.CostUSD != nil {
		t.Errorf("cost %v without prices", *got.CostUSD)
	}
	if got.Models["decoy"] != nil {
		t.Error("a model named deep in the body was counted")
	}
	sonnet := modeltest.Tokens("claude-sonnet-test")
	if v := testutil.ToFloat64(f.r.metrics.tokens.WithLabelValues("ws-1", "c-1", "claude-sonnet-test", "cache_read")); v != float64(2*sonnet.CacheRead) {
		t.Errorf("cache_read metric %v, want %d", v, 2*sonnet.CacheRead)
	}
	raw, _ := json.Marshal(got)
	if !strings.Contains(string(raw), `"cacheCreationInputTokens":40`) || strings.Contains(string(raw), "costUsd") {
		t.Errorf("JSON %s", raw)
	}

	// Re-opened after a restart with the stored count: it goes on from there.
	b, _ := f.openMetered(t, MeterState{Used: got})
	ask(t, b, "claude-sonnet-test", true)
	again := b.Usage()
	if again.Requests != got.Requests+1 || again.Models["claude-sonnet-test"].Requests != 3 {
		t.Errorf("re-opened count %+v", again)
	}
}

// A turn budget of three answers' worth lets three requests through and
// answers the fourth (and later ones) 429 in the API's error shape, naming
// the budget; the turn is stopped once, with one budget_exhausted event.
func TestMeterTurnBudgetStopsTheFourthRequest(t *testing.T) {
	up := modeltest.New(t)
	const model = "claude-sonnet-test"
	cfg := testConfig(t, up.URL)
	cfg.Meter.MaxTurnTokens = 3 * modeltest.Tokens(model).Spent()
	f := startRelay(t, cfg)
	a, ev := f.openMetered(t, MeterState{})
	for i := range 3 {
		if status, _ := ask(t, a, model, i != 1); status != 200 {
			t.Fatalf("request %d: %d", i+1, status)
		}
	}
	for range 2 {
		status, body := ask(t, a, model, true)
		var e struct {
			Type  string
			Error struct{ Type, Message string }
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || status != http.StatusTooManyRequests || e.Type != "error" ||
			e.Error.Type != "rate_limit_error" || !strings.Contains(e.Error.Message, "turn's token budget") {
			t.Errorf("over budget: %d %s", status, body)
		}
	}
	if n, _ := up.Served(); n != 3 {
		t.Errorf("the upstream got %d requests, want 3", n)
	}
	if got := a.Usage(); got.Requests != 3 {
		t.Errorf("counted %d requests, want 3 (refusals of the relay are not the upstream's)", got.Requests)
	}
	exhausted := ev.of("budget_exhausted")
	if len(exhausted) != 1 || exhausted[0]["budget"] != BudgetTurnTokens || exhausted[0]["used"] != float64(cfg.Meter.MaxTurnTokens) ||
		exhausted[0]["limit"] != float64(cfg.Meter.MaxTurnTokens) {
		t.Errorf("budget events %v", exhausted)
	}
	if len(ev.stops) != 1 || !strings.HasPrefix(ev.stops[0], "budget: ") {
		t.Errorf("stops %q", ev.stops)
	}
}

// The conversation's budget counts its earlier turns; a turn's own
// maxTokens is lower than the operator's and wins.
func TestMeterConversationAndOptionBudgets(t *testing.T) {
	up := modeltest.New(t)
	const model = "claude-sonnet-test"
	per := modeltest.Tokens(model).Spent()
	cfg := testConfig(t, up.URL)
	cfg.Meter.MaxConversationTokens = 10 * per
	cfg.Meter.MaxTurnTokens = 5 * per
	f := startRelay(t, cfg)

	a, ev := f.openMetered(t, MeterState{Conversation: Spend{Tokens: 9 * per}})
	if status, _ := ask(t, a, model, true); status != 200 {
		t.Fatalf("first: %d", status)
	}
	if status, body := ask(t, a, model, true); status != 429 || !strings.Contains(body, "conversation's token budget") {
		t.Errorf("second: %d %s", status, body)
	}
	if e := ev.of("budget_exhausted"); len(e) != 1 || e[0]["budget"] != BudgetConversationTokens || e[0]["used"] != float64(10*per) {
		t.Errorf("events %v", e)
	}

	b, ev := f.openMetered(t, MeterState{MaxTokens: per})
	ask(t, b, model, false)
	if status, _ := ask(t, b, model, false); status != 429 {
		t.Errorf("options.maxTokens of one answer let a second through: %d", status)
	}
	if e := ev.of("budget_exhausted"); len(e) != 1 || e[0]["limit"] != float64(per) {
		t.Errorf("events %v", e)
	}
	c, _ := f.openMetered(t, MeterState{MaxTokens: 100 * per}) // above the operator's: the operator's holds
	if c.turn.meter.limits.turnTokens != 5*per {
		t.Errorf("turn limit %d, want the operator's %d", c.turn.meter.limits.turnTokens, 5*per)
	}
}

// With prices the usage has its cost (exact, dated and default prices), and
// dollar budgets hold; models without a price add nothing.
func TestMeterPricesAndDollarBudgets(t *testing.T) {
	up := modeltest.New(t)
	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(`{"claude-sonnet-test":{"input":3,"output":15,"cacheCreation":3.75,"cacheRead":0.3},
		"claude-haiku":{"input":1,"output":5,"cacheCreation":1.25,"cacheRead":0.1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, up.URL)
	cfg.Meter.ModelPrices = prices
	cfg.Meter.MaxConversationUSD = 0.02
	f := startRelay(t, cfg)
	a, ev := f.openMetered(t, MeterState{Conversation: Spend{Tokens: 1, USD: 0.01}})
	ask(t, a, "claude-sonnet-test", true)
	ask(t, a, "claude-haiku-20991231", false) // a dated id: the claude-haiku price
	ask(t, a, "claude-unpriced", true)
	s, h := modeltest.Tokens("claude-sonnet-test"), modeltest.Tokens("claude-haiku-20991231")
	want := (float64(s.Input)*3+float64(s.Output)*15+float64(s.CacheCreation)*3.75+float64(s.CacheRead)*0.3)/1e6 +
		(float64(h.Input)*1+float64(h.Output)*5+float64(h.CacheCreation)*1.25+float64(h.CacheRead)*0.1)/1e6
	got := a.Usage()
	if got.CostUSD == nil || fmt.Sprintf("%.9f", *got.CostUSD) != fmt.Sprintf("%.9f", want) {
		t.Fatalf("cost %v, want %v", got.CostUSD, want)
	}
	if v := testutil.ToFloat64(f.r.metrics.cost.WithLabelValues("ws-1", "c-1")); fmt.Sprintf("%.9f", v) != fmt.Sprintf("%.9f", want) {
		t.Errorf("cost metric %v, want %v", v, want)
	}
	if !strings.Contains(f.logs.String(), "claude-unpriced") {
		t.Error("an unpriced model was not warned about")
	}
	// 0.01 before + this turn's cost is still under 0.02: more answers until it is not.
	for i := 0; ; i++ {
		status, body := ask(t, a, "claude-sonnet-test", true)
		if status == 429 {
			if !strings.Contains(body, "conversation's dollar budget") {
				t.Errorf("429 %s", body)
			}
			break
		}
		if i > 20 {
			t.Fatal("the dollar budget never held")
		}
	}
	if e := ev.of("budget_exhausted"); len(e) != 1 || e[0]["budget"] != BudgetConversationUSD || e[0]["used"].(float64) < 0.02 {
		t.Errorf("events %v", e)
	}
}

// A bad prices file stops New, naming the file, the model and the field.
func TestLoadPricesNamesTheProblem(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ content, want string }{
		"missing file":  {"", "no such file"},
		"not JSON":      {`{"a":`, "not a JSON object"},
		"empty":         {`{}`, "no model has a price"},
		"not an object": {`{"claude-x": 3}`, `model "claude-x": must be an object`},
		"missing field": {`{"claude-x":{"input":1,"output":2,"cacheRead":0}}`, `model "claude-x": field "cacheCreation" is missing`},
		"negative":      {`{"claude-x":{"input":-1,"output":2,"cacheCreation":1,"cacheRead":0}}`, `model "claude-x": field "input" must be`},
		"a string":      {`{"default":{"input":1,"output":"2","cacheCreation":1,"cacheRead":0}}`, `model "default": field "output" must be`},
		"unknown field": {`{"claude-x":{"input":1,"output":2,"cacheCreation":1,"cacheRead":0,"cache_read":1}}`, `field "cache_read" is not a price`},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
			if c.content != "" {
				if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadPrices(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want the file and %q", err, c.want)
			}
			cfg := testConfig(t, "http://127.0.0.1:1")
			cfg.Meter.ModelPrices = path
			if _, err := New(Params{Config: cfg}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v", err)
			}
		})
	}
}

// The request's model is its top-level "model" in any chunking; keys and
// strings deeper down are not.
func TestModelSniffer(t *testing.T) {
	for body, want := range map[string]string{
		`{"model":"claude-a","stream":true}`:                                               "claude-a",
		`{"messages":[{"model":"decoy"}],"system":"\"model\":\"x\"","model" : "claude-b"}`: "claude-b",
		`{"tools":{"model":{"type":"string"}},"max_tokens":5,"model":"claude-c"}`:          "claude-c",
		`{"metadata":{"user_id":"u"}}`:                                                     "",
		`{"model":"esc\"aped"}`:                                                            "",
		`{"model":7}`:                                                                      "",
	} {
		for _, chunk := range []int{1, 3, 1 << 10} {
			s := newModelSniffer(io.NopCloser(strings.NewReader(body)))
			buf := make([]byte, chunk)
			var out []byte
			for {
				n, err := s.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
			}
			if s.Model() != want || string(out) != body {
				t.Errorf("%s in chunks of %d: model %q, want %q", body, chunk, s.Model(), want)
			}
		}
	}
}
