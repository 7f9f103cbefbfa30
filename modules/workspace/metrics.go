package workspace

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the workspace manager.
//
// Checkout size is a histogram, not a gauge per workspace: workspace ids are
// chosen by the orchestrator and unbounded, so a workspace_id label would grow
// the series without limit and never forget deleted workspaces. The log line
// "checkout ready" carries the size per workspace for the rare case one needs
// it; the histogram answers the operator's questions (how big do checkouts
// get, is the disk going to fill).
type metrics struct {
	cloneSeconds   *prometheus.HistogramVec
	checkoutBytes  prometheus.Histogram
	prepareSeconds *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		cloneSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "claudette_workspace_clone_duration_seconds",
			Help:    "Time to clone a workspace's repository, by source (remote, local) and result (ok, error).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"source", "result"}),
		checkoutBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "claudette_workspace_checkout_bytes",
			Help:    "Size on disk of a fresh checkout (worktree and .git), measured after clone.",
			Buckets: prometheus.ExponentialBuckets(64<<10, 4, 10), // 64 KiB .. 16 GiB
		}),
		prepareSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "claudette_workspace_prepare_duration_seconds",
			Help:    "Time a turn waits for its checkout, by outcome: existing (reused as the agent left it), fresh (cloned), error.",
			Buckets: []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600},
		}, []string{"checkout"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.cloneSeconds, m.checkoutBytes, m.prepareSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// prepared records one Prepare or PrepareLocal.
func (m *metrics) prepared(co Checkout, err error, d time.Duration) {
	outcome := "existing"
	switch {
	case err != nil:
		outcome = "error"
	case co.Fresh:
		outcome = "fresh"
	}
	m.prepareSeconds.WithLabelValues(outcome).Observe(d.Seconds())
}
