package sandbox

import "github.com/prometheus/client_golang/prometheus"

// metrics of the sandbox engine.
type metrics struct {
	started   prometheus.Counter
	finished  *prometheus.CounterVec
	running   prometheus.Gauge
	duration  prometheus.Histogram
	output    prometheus.Counter
	truncated prometheus.Counter
	starts    *prometheus.CounterVec // kept sandboxes: warm or cold
	idle      prometheus.Gauge
	evictions *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_sandbox_runs_started_total", Help: "Sandbox containers started or re-attached.",
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "claudette_sandbox_runs_finished_total", Help: "Sandbox runs ended, by why they ended.",
		}, []string{"kind"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "claudette_sandbox_running", Help: "Sandbox runs being followed now.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "claudette_sandbox_run_duration_seconds", Help: "Wall-clock time of sandbox runs.",
			Buckets: []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 7200},
		}),
		output: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_sandbox_output_bytes_total", Help: "Bytes of stdout and stderr read from sandboxes.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "claudette_sandbox_truncated_lines_total", Help: "Output lines cut at the line limit.",
		}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "claudette_sandbox_turn_starts_total", Help: "Turns started in a kept sandbox: warm (an idle one) or cold (a new one).",
		}, []string{"start"}),
		idle: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "claudette_sandbox_idle", Help: "Kept sandboxes waiting idle for their workspace's next turn.",
		}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "claudette_sandbox_evictions_total", Help: "Kept sandboxes removed, by reason.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.started, m.finished, m.running, m.duration, m.output, m.truncated, m.starts, m.idle, m.evictions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
