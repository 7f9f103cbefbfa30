package sandbox

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the sandbox engine.
type metrics struct {
	started   prometheus.Counter
	finished  *prometheus.CounterVec
	running   prometheus.Gauge
	duration  prometheus.Histogram
	output    prometheus.Counter
	truncated prometheus.Counter
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
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.started, err = register(reg, m.started); err != nil {
		return nil, err
	}
	if m.finished, err = register(reg, m.finished); err != nil {
		return nil, err
	}
	if m.running, err = register(reg, m.running); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.output, err = register(reg, m.output); err != nil {
		return nil, err
	}
	if m.truncated, err = register(reg, m.truncated); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name (a second Manager on the same registry shares the metrics).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, err
}
