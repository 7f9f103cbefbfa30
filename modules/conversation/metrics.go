package conversation

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	active   prometheus.Gauge
	queued   prometheus.Gauge
	events   prometheus.Counter
	turns    *prometheus.CounterVec
	duration prometheus.Histogram
	// writeFailures counts failed writes of turn records and sends (retried).
	writeFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "claudette_turns_active", Help: "Turns running (or preparing) now."}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "claudette_turns_queued", Help: "Turns waiting for their workspace or a slot."}),
		events: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_turn_events_total", Help: "Agent output lines relayed as conversation.event."}),
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_turns_total", Help: "Finished turns by status (completed, failed, error)."},
			[]string{"status"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "claudette_turn_duration_seconds", Help: "Wall-clock time of a turn from start to answer.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 16)}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_turn_write_failures_total",
			Help: "Turn record writes and sends that failed (a full or failing data dir) and were retried."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.active, m.queued, m.events, m.turns, m.duration, m.writeFailures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) finished(status string, d time.Duration) {
	m.turns.WithLabelValues(status).Inc()
	m.duration.Observe(d.Seconds())
}
