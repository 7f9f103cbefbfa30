package sync

import (
	"fmt"
	stdsync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the claudette_intake_* series.
type metrics struct {
	received   *prometheus.CounterVec
	dispatched prometheus.Counter
	duplicates prometheus.Counter
	rejected   *prometheus.CounterVec
	withdrawn  prometheus.Counter
	refetches  prometheus.Counter
	retries    *prometheus.CounterVec
	lastOK     prometheus.Gauge
	failures   prometheus.Gauge

	mu           stdsync.Mutex
	lastUpToDate time.Time
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "claudette_intake_rows_received_total",
			Help: "Change messages received from Electric, by operation (insert, update, delete, other).",
		}, []string{"operation"}),
		dispatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_intake_messages_dispatched_total",
			Help: "Messages handed to the handler.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_intake_duplicates_dropped_total",
			Help: "Inserts whose id was already in the journal (a resync or a re-insert), not acted on again.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "claudette_intake_rows_rejected_total",
			Help: "Rows not dispatched because they are malformed or not for this runner, by reason.",
		}, []string{"reason"}),
		withdrawn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_intake_withdrawals_total",
			Help: "Deletes of dispatched messages passed to the handler as withdrawals.",
		}),
		refetches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_intake_must_refetch_total",
			Help: "409 must-refetch answers: the shape was re-read from the start.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "claudette_intake_retries_total",
			Help: "Failed Electric requests that were retried, by reason (network, server, throttled, auth, rejected, position, protocol, stale, journal).",
		}, []string{"reason"}),
		lastUpToDate: time.Now(),
	}
	for _, op := range []string{opInsert, opUpdate, opDelete, "other"} {
		m.received.WithLabelValues(op)
	}
	since := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "claudette_intake_seconds_since_up_to_date",
		Help: "Seconds since the shape was last up to date (since start until the first time).",
	}, func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return time.Since(m.lastUpToDate).Seconds()
	})
	m.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "claudette_intake_last_success_timestamp_seconds",
		Help: "Unix time of the last Electric request that succeeded (0: none since start).",
	})
	m.failures = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "claudette_intake_consecutive_failures",
		Help: "Electric requests in a row that failed.",
	})
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.dispatched, m.duplicates, m.rejected, m.withdrawn, m.refetches, m.retries, since,
		m.lastOK, m.failures} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register intake metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) upToDate() {
	m.mu.Lock()
	m.lastUpToDate = time.Now()
	m.mu.Unlock()
}
