package disk

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	usedBytes    *prometheus.GaugeVec
	limitBytes   prometheus.Gauge
	hits         *prometheus.CounterVec
	measureSecs  prometheus.Counter
	freeBytes    *prometheus.GaugeVec
	floorBlocked prometheus.Gauge
}

// newMetrics registers the package's metrics with reg (none when nil).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		usedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "claudette_workspace_disk_bytes",
			Help: "Disk a workspace uses (checkout and state), as last measured while its turn ran."}, []string{"workspace_id"}),
		limitBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "claudette_workspace_disk_limit_bytes",
			Help: "Disk limit of one workspace (--sandbox-disk); 0 = none."}),
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "claudette_workspace_disk_limit_hits_total",
			Help: "Turns whose workspace reached its disk limit, by who enforced it."}, []string{"mode"}),
		measureSecs: prometheus.NewCounter(prometheus.CounterOpts{Name: "claudette_workspace_disk_measure_seconds_total",
			Help: "Time spent measuring workspaces' disk use."}),
		freeBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "claudette_disk_free_bytes",
			Help: "Free space on the workspace and data file systems."}, []string{"dir"}),
		floorBlocked: prometheus.NewGauge(prometheus.GaugeOpts{Name: "claudette_disk_floor_blocked",
			Help: "1 while free space is below --min-free-disk and no new turn starts."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.usedBytes, m.limitBytes, m.hits, m.measureSecs, m.freeBytes, m.floorBlocked} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(err) // a name clash is a programming error
				}
			}
		}
	}
	return m
}

func (m *metrics) used(id string, b int64)  { m.usedBytes.WithLabelValues(id).Set(float64(b)) }
func (m *metrics) forget(id string)         { m.usedBytes.DeleteLabelValues(id) }
func (m *metrics) hit(mode Mode)            { m.hits.WithLabelValues(string(mode)).Inc() }
func (m *metrics) measured(d time.Duration) { m.measureSecs.Add(d.Seconds()) }
func (m *metrics) free(dir string, b int64) { m.freeBytes.WithLabelValues(dir).Set(float64(b)) }
func (m *metrics) blocked(b bool)           { m.floorBlocked.Set(map[bool]float64{true: 1}[b]) }
func (m *metrics) limit(b int64)            { m.limitBytes.Set(float64(b)) }
