package relay

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics per conversation carry the workspace and conversation ids as
// labels: the operator asked for cost per conversation, and a conversation id
// is only unique within its workspace. Ids are unbounded over a runner's
// life, so a conversation's series are deleted seriesRetention after its last
// turn ended: the live set stays bounded by the conversations of the last
// hour (three series each), while the totals stay in the scraper's storage.
// Everything else is labelled by a small fixed set, never by a host or an id.
const seriesRetention = time.Hour

// convKey is a conversation's label values.
type convKey struct{ workspace, conversation string }

type metrics struct {
	requests       *prometheus.CounterVec // workspace_id, conversation_id
	tokens         *prometheus.CounterVec // workspace_id, conversation_id, model, kind
	cost           *prometheus.CounterVec // workspace_id, conversation_id (only with prices)
	budgetRefused  prometheus.Counter
	models         *modelLabels
	refused        prometheus.Counter
	upstreamErrors prometheus.Counter
	egress         *prometheus.CounterVec // decision
	open           prometheus.Gauge

	gitRequests       *prometheus.CounterVec // service, code
	gitBytes          *prometheus.CounterVec // direction
	gitPushes         prometheus.Counter
	gitPushRefused    *prometheus.CounterVec // reason
	gitUpstreamErrors prometheus.Counter
}

// Egress decisions, the values of the decision label.
const (
	egressAllowed       = "allowed"
	egressDeniedHost    = "denied_host"
	egressDeniedAddress = "denied_address"
	egressFailed        = "failed"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	conv := []string{"workspace_id", "conversation_id"}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_relay_model_requests_total",
			Help: "Model API requests relayed, per conversation (series dropped an hour after its last turn)."}, conv),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_relay_model_tokens_total",
			Help: "Model tokens the upstream reported, per conversation, model and kind (input, output, cache_creation, cache_read); series dropped with the workspace or an hour after the conversation's last turn."},
			append(conv, "model", "kind")),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_relay_model_cost_usd_total",
			Help: "Model cost in USD from --model-prices, per conversation; series dropped with the workspace or an hour after the conversation's last turn."}, conv),
		budgetRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_relay_budget_refused_total",
			Help: "Model requests refused (429) because a turn or conversation budget was spent."}),
		models: newModelLabels(),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_relay_model_refused_total",
			Help: "Model requests refused: a missing, wrong or expired turn token, or an endpoint a turn does not need."}),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_relay_model_upstream_errors_total",
			Help: "Model requests that could not reach the model API."}),
		egress: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_relay_egress_requests_total",
			Help: "Egress proxy destinations by decision: allowed (connected), denied_host, denied_address, failed."}, []string{"decision"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "claudette_relay_turns_open",
			Help: "Turns whose model relay is open."}),
		gitRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_relay_git_requests_total",
			Help: "Git relay requests by service (git-upload-pack, git-receive-pack, none: refused before routing) and HTTP status."},
			[]string{"service", "code"}),
		gitBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_relay_git_bytes_total",
			Help: "Git relay body bytes by direction (to_upstream, to_sandbox)."}, []string{"direction"}),
		gitPushes: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_relay_git_pushes_total",
			Help: "Refs the repository accepted from pushes forwarded by the git relay."}),
		gitPushRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_relay_git_push_refused_total",
			Help: "Refs of pushes refused, by reason: pushing_off, branch_not_allowed, other_ref, tag, deletion, too_large, with_the_rest, upstream, unreachable, malformed."},
			[]string{"reason"}),
		gitUpstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_relay_git_upstream_errors_total",
			Help: "Git relay requests that could not reach the git host (or the local repository)."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.tokens, m.cost, m.budgetRefused, m.refused, m.upstreamErrors, m.egress, m.open,
		m.gitRequests, m.gitBytes, m.gitPushes, m.gitPushRefused, m.gitUpstreamErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// retireSeries deletes the series of conversations with no open turn whose
// last turn ended more than seriesRetention ago.
func (r *Relay) retireSeries(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	active := map[convKey]bool{}
	for _, t := range r.turns {
		active[t.conv] = true
	}
	for c, last := range r.seen {
		if active[c] || now.Sub(last) < seriesRetention {
			continue
		}
		delete(r.seen, c)
		labels := prometheus.Labels{"workspace_id": c.workspace, "conversation_id": c.conversation}
		r.metrics.forget(c, labels)
	}
}

// gitRequest counts one git relay request; the code label is bounded to
// HTTP's three-digit statuses.
func (m *metrics) gitRequest(service string, code int) {
	if code < 100 || code > 599 {
		code = 0
	}
	m.gitRequests.WithLabelValues(service, strconv.Itoa(code)).Inc()
}
