package relay

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// MeterState is what the conversation tells the relay about a turn's meter
// when it opens it (Turn.Meter).
type MeterState struct {
	// Used is what the turn already used: the count the conversation kept
	// for a turn re-opened after a restart; zero for a new turn.
	Used Usage
	// Conversation is what the conversation's earlier turns used, for
	// --max-conversation-tokens and --max-conversation-usd.
	Conversation Spend
	// MaxTokens and MaxUSD are the turn's own budgets (options.maxTokens,
	// options.maxUsd; 0 = the operator's only). The lower of the turn's and
	// the operator's applies.
	MaxTokens int64
	MaxUSD    float64
	// Stop ends the turn once a budget refused a model request; reason is
	// "budget: …". Called at most once; must not block.
	Stop func(reason string)
}

// Spend is what counts against budgets: tokens (input + output + cache
// creation) and, with prices, USD.
type Spend struct {
	Tokens int64   `json:"tokens"`
	USD    float64 `json:"usd,omitempty"`
}

// Add is the sum of two spends.
func (s Spend) Add(o Spend) Spend { return Spend{Tokens: s.Tokens + o.Tokens, USD: s.USD + o.USD} }

// Tokens is what a budget counts of u: input, output and cache creation
// tokens of every model.
func (u Usage) Tokens() int64 {
	var n int64
	for _, m := range u.Models {
		n += m.InputTokens + m.OutputTokens + m.CacheCreationInputTokens
	}
	return n
}

// Spend is u's tokens and cost (0 without prices).
func (u Usage) Spend() Spend {
	s := Spend{Tokens: u.Tokens()}
	if u.CostUSD != nil {
		s.USD = *u.CostUSD
	}
	return s
}

// Clone is a deep copy of u.
func (u Usage) Clone() Usage {
	out := Usage{Requests: u.Requests, Models: make(map[string]*ModelUsage, len(u.Models))}
	for k, m := range u.Models {
		c := *m
		out.Models[k] = &c
	}
	if u.CostUSD != nil {
		c := *u.CostUSD
		out.CostUSD = &c
	}
	return out
}

// Budget names, in budget_exhausted events.
const (
	BudgetTurnTokens         = "turn_tokens"
	BudgetConversationTokens = "conversation_tokens"
	BudgetTurnUSD            = "turn_usd"
	BudgetConversationUSD    = "conversation_usd"
)

// limits are a turn's budgets; 0 = none.
type limits struct {
	turnTokens, convTokens int64
	turnUSD, convUSD       float64
}

// exhaustion is a budget a turn reached.
type exhaustion struct {
	budget      string
	used, limit any // int64 tokens or float64 USD
	reason      string
}

// meter counts one turn's model use and holds its budgets.
type meter struct {
	r    *Relay
	t    *turnRelay
	stop func(string)

	mu        sync.Mutex
	used      Usage
	prior     Spend
	limits    limits
	exhausted *exhaustion
	unpriced  map[string]bool // models warned about
}

func (r *Relay) newMeter(t *turnRelay, s MeterState) *meter {
	m := &meter{r: r, t: t, stop: s.Stop, used: s.Used.Clone(), prior: s.Conversation, unpriced: map[string]bool{}}
	m.used.CostUSD = nil // recomputed from the counts with today's prices
	cfg := r.cfg.Meter
	m.limits = limits{turnTokens: lowest(cfg.MaxTurnTokens, s.MaxTokens), convTokens: cfg.MaxConversationTokens}
	if r.prices != nil {
		m.limits.turnUSD, m.limits.convUSD = lowest(cfg.MaxTurnUSD, s.MaxUSD), cfg.MaxConversationUSD
	}
	return m
}

// lowest is the smaller of two budgets, 0 meaning none.
func lowest[T int64 | float64](a, b T) T {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}

// add counts one model request; model names it when its response did not.
func (m *meter) add(model string, u usage) {
	if u.model != "" {
		model = u.model
	}
	var warn []string
	m.mu.Lock()
	m.used.Requests++
	if model != "" {
		mu := m.used.Models[model]
		if mu == nil {
			mu = &ModelUsage{}
			m.used.Models[model] = mu
		}
		mu.Requests++
		mu.InputTokens += u.input
		mu.OutputTokens += u.output
		mu.CacheCreationInputTokens += u.cacheCreation
		mu.CacheReadInputTokens += u.cacheRead
	}
	if m.r.prices != nil && model != "" && !m.unpriced[model] {
		if _, ok := m.r.prices.lookup(model); !ok && u.tokens()+u.cacheRead > 0 {
			m.unpriced[model] = true
			warn = append(warn, model)
		}
	}
	m.mu.Unlock()
	m.r.metrics.countUsage(m.t.conv, model, u, m.r.prices)
	for _, model := range warn {
		m.r.log.Warn("a model has no price: its use adds nothing to the cost", zap.String("message_id", m.t.turn.MessageID),
			zap.String("model", model))
	}
}

// usage is the turn's count so far, with its cost when there are prices.
func (m *meter) usage() Usage {
	m.mu.Lock()
	u := m.used.Clone()
	m.mu.Unlock()
	if m.r.prices != nil {
		c, _ := m.r.prices.Cost(u)
		u.CostUSD = &c
	}
	return u
}

// check says whether the turn may make another model request: nil, or the
// budget it reached. first is true the first time a budget is reached.
func (m *meter) check() (ex *exhaustion, first bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exhausted != nil {
		return m.exhausted, false
	}
	l := m.limits
	if l == (limits{}) {
		return nil, false
	}
	tokens := m.used.Tokens()
	var cost float64
	if m.r.prices != nil {
		cost, _ = m.r.prices.Cost(m.used)
	}
	switch {
	case l.turnTokens > 0 && tokens >= l.turnTokens:
		ex = &exhaustion{budget: BudgetTurnTokens, used: tokens, limit: l.turnTokens,
			reason: fmt.Sprintf("budget: the turn's token budget is spent (%d of %d tokens)", tokens, l.turnTokens)}
	case l.convTokens > 0 && m.prior.Tokens+tokens >= l.convTokens:
		ex = &exhaustion{budget: BudgetConversationTokens, used: m.prior.Tokens + tokens, limit: l.convTokens,
			reason: fmt.Sprintf("budget: the conversation's token budget is spent (%d of %d tokens)", m.prior.Tokens+tokens, l.convTokens)}
	case l.turnUSD > 0 && cost >= l.turnUSD:
		ex = &exhaustion{budget: BudgetTurnUSD, used: cost, limit: l.turnUSD,
			reason: fmt.Sprintf("budget: the turn's dollar budget is spent (%.4f of %.4f USD)", cost, l.turnUSD)}
	case l.convUSD > 0 && m.prior.USD+cost >= l.convUSD:
		ex = &exhaustion{budget: BudgetConversationUSD, used: m.prior.USD + cost, limit: l.convUSD,
			reason: fmt.Sprintf("budget: the conversation's dollar budget is spent (%.4f of %.4f USD)", m.prior.USD+cost, l.convUSD)}
	default:
		return nil, false
	}
	m.exhausted = ex
	return ex, true
}

// refuse answers a model request over budget: 429 in the API's error shape
// (not to be retried), and, the first time, a budget_exhausted event and the
// turn's stop.
func (m *meter) refuse(w http.ResponseWriter, ex *exhaustion, first bool) {
	m.r.metrics.budgetRefused.Inc()
	w.Header().Set("X-Should-Retry", "false")
	writeAPIError(w, http.StatusTooManyRequests, "rate_limit_error", "model relay: "+ex.reason)
	if !first {
		return
	}
	m.r.log.Info("turn budget spent: model requests refused", zap.String("message_id", m.t.turn.MessageID),
		zap.String("budget", ex.budget), zap.Any("used", ex.used), zap.Any("limit", ex.limit))
	m.t.turn.notify(rpc.RunnerEvent(rpc.RunnerBudgetExhausted, map[string]any{"budget": ex.budget, "used": ex.used, "limit": ex.limit}))
	if m.stop != nil {
		m.stop(ex.reason)
	}
}

// Usage is what the relay counted of the turn's model use so far (with the
// count it was re-opened with), with costUsd when there are prices.
func (a *Access) Usage() Usage {
	if a == nil || a.turn == nil || a.turn.meter == nil {
		return Usage{Models: map[string]*ModelUsage{}}
	}
	return a.turn.meter.usage()
}

// Prices are the operator's model prices; nil without --model-prices.
func (r *Relay) Prices() *Prices { return r.prices }
