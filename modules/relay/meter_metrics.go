package relay

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// maxModelSeries bounds the model label values of one conversation's token
// series: past it, further models are counted as "other".
const maxModelSeries = 8

// otherModel is the model label of a conversation's models past maxModelSeries,
// and of requests whose model is unknown.
const otherModel = "other"

// modelLabels remembers the model label values each conversation has, so a
// hostile agent that asks for a thousand model names makes at most
// maxModelSeries series.
type modelLabels struct {
	mu   sync.Mutex
	byCv map[convKey]map[string]bool
}

func newModelLabels() *modelLabels { return &modelLabels{byCv: map[convKey]map[string]bool{}} }

func (l *modelLabels) label(c convKey, model string) string {
	if model == "" {
		return otherModel
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.byCv[c]
	if set == nil {
		set = map[string]bool{}
		l.byCv[c] = set
	}
	if set[model] {
		return model
	}
	if len(set) >= maxModelSeries {
		return otherModel
	}
	set[model] = true
	return model
}

func (l *modelLabels) forget(c convKey) {
	l.mu.Lock()
	delete(l.byCv, c)
	l.mu.Unlock()
}

// countUsage adds one response's tokens (and cost, with prices) to its
// conversation's series.
func (m *metrics) countUsage(c convKey, model string, u usage, prices *Prices) {
	label := m.models.label(c, model)
	for _, k := range []struct {
		kind string
		n    int64
	}{{"input", u.input}, {"output", u.output}, {"cache_creation", u.cacheCreation}, {"cache_read", u.cacheRead}} {
		if k.n > 0 {
			m.tokens.WithLabelValues(c.workspace, c.conversation, label, k.kind).Add(float64(k.n))
		}
	}
	if prices != nil && model != "" {
		cost, _ := prices.Cost(Usage{Models: map[string]*ModelUsage{model: {InputTokens: u.input, OutputTokens: u.output,
			CacheCreationInputTokens: u.cacheCreation, CacheReadInputTokens: u.cacheRead}}})
		if cost > 0 {
			m.cost.WithLabelValues(c.workspace, c.conversation).Add(cost)
		}
	}
}

// forget deletes a conversation's series.
func (m *metrics) forget(c convKey, labels prometheus.Labels) {
	m.requests.DeletePartialMatch(labels)
	m.tokens.DeletePartialMatch(labels)
	m.cost.DeletePartialMatch(labels)
	m.models.forget(c)
}

// ForgetWorkspace deletes the metric series of every conversation of a
// workspace (workspace.delete), also of one whose turn is still open.
func (r *Relay) ForgetWorkspace(workspaceID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.seen {
		if c.workspace == workspaceID {
			delete(r.seen, c)
		}
	}
	for c := range r.metrics.models.byCvCopy() {
		if c.workspace == workspaceID {
			r.metrics.models.forget(c)
		}
	}
	labels := prometheus.Labels{"workspace_id": workspaceID}
	r.metrics.requests.DeletePartialMatch(labels)
	r.metrics.tokens.DeletePartialMatch(labels)
	r.metrics.cost.DeletePartialMatch(labels)
}

func (l *modelLabels) byCvCopy() map[convKey]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[convKey]bool, len(l.byCv))
	for c := range l.byCv {
		out[c] = true
	}
	return out
}
