package reporter

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Request outcomes, the label of claudette_reporter_requests_total.
const (
	outcomeDelivered    = "delivered"
	outcomeRetry        = "retry"
	outcomeUnauthorized = "unauthorized"
	outcomeRejected     = "rejected"
)

type metrics struct {
	queued       prometheus.Counter
	delivered    prometheus.Counter
	retried      prometheus.Counter
	deadLettered prometheus.Counter
	outboxBytes  prometheus.Gauge
	outboxItems  prometheus.Gauge
	waiting      prometheus.Gauge
	waits        prometheus.Counter
	latency      prometheus.Histogram
	requests     *prometheus.CounterVec
	lastSuccess  prometheus.Gauge
	failures     prometheus.Gauge
	// commitFailures counts outbox commits that failed (ENOSPC, EIO).
	commitFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_reporter_items_queued_total",
			Help: "Items stored in the outbox for delivery to the orchestrator.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_reporter_items_delivered_total",
			Help: "Outbox items the orchestrator accepted (2xx).",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_reporter_items_retried_total",
			Help: "Outbox items in batches that failed and will be sent again (408, 429, 5xx, 401, 403, network errors).",
		}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_reporter_items_dead_lettered_total",
			Help: "Outbox items in batches the orchestrator rejected (other 4xx), set aside in {dataDir}/deadletter.",
		}),
		outboxBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "claudette_reporter_outbox_bytes",
			Help: "Bytes of items waiting in the outbox.",
		}),
		outboxItems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "claudette_reporter_outbox_items",
			Help: "Items waiting in the outbox.",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "claudette_reporter_backpressure_waiting",
			Help: "Producers waiting because the outbox is over its size bound.",
		}),
		waits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_reporter_backpressure_waits_total",
			Help: "Sends that had to wait because the outbox was over its size bound.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "claudette_reporter_delivery_latency_seconds",
			Help:    "Time from storing an item in the outbox to the orchestrator accepting it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12), // 1ms .. ~70min
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "claudette_reporter_requests_total",
			Help: "POSTs to the orchestrator by outcome: delivered, retry, unauthorized, rejected.",
		}, []string{"outcome"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "claudette_reporter_last_success_timestamp_seconds",
			Help: "Unix time of the last POST the orchestrator accepted (0: none since start).",
		}),
		failures: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "claudette_reporter_consecutive_failures",
			Help: "POSTs in a row the orchestrator failed, refused or rejected.",
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_reporter_outbox_commit_failures_total",
			Help: "Outbox commits that failed (the data dir could not be written); their producers retry.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.queued, m.delivered, m.retried, m.deadLettered,
		m.outboxBytes, m.outboxItems, m.waiting, m.waits, m.latency, m.requests, m.lastSuccess, m.failures,
		m.commitFailures} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register reporter metrics: a reporter is already registered: %w", err)
			}
			return nil, fmt.Errorf("register reporter metrics: %w", err)
		}
	}
	return m, nil
}
