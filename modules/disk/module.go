package disk

import (
	"context"
	"path/filepath"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// HealthComponent is the readiness component of the free-space floor.
const HealthComponent = "disk"

// SettingsFrom maps the runner's configuration to the package's settings.
func SettingsFrom(cfg *config.Config) Settings {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	return Settings{
		Limit:         int64(cfg.Sandbox.Disk),
		MinFree:       int64(cfg.MinFreeDisk),
		WorkspaceRoot: abs(cfg.WorkspaceDir),
		StateRoot:     abs(filepath.Join(cfg.DataDir, "workspaces")),
		DataDir:       abs(cfg.DataDir),
	}
}

// Module provides the workspaces' disk limits, their watcher and the
// free-space floor.
var Module = fx.Module("disk",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("disk") }),
	fx.Provide(
		func(cfg *config.Config) Settings { return SettingsFrom(cfg) },
		func(s Settings, reg prometheus.Registerer) *metrics {
			m := newMetrics(reg)
			m.limit(s.Limit)
			return m
		},
		NewLimits,
		NewWatcher,
		func(s Settings, log *zap.Logger, reg *health.Registry, m *metrics) *Floor {
			return NewFloor(s, log, reg.Component(HealthComponent), m)
		},
	),
	fx.Invoke(func(lc fx.Lifecycle, l *Limits, w *Watcher, f *Floor) {
		lc.Append(fx.StartHook(func(context.Context) error { return l.Start() }))
		lc.Append(fx.StartStopHook(w.Start, w.Stop))
		lc.Append(fx.StartStopHook(f.Start, f.Stop))
	}),
)
