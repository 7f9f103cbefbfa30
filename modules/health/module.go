package health

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the readiness registry, the metrics registry (also as a
// prometheus.Registerer) and the endpoint serving them.
var Module = fx.Module("health",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("health") }),
	fx.Provide(
		NewRegistry,
		NewMetrics,
		func(r *prometheus.Registry) prometheus.Registerer { return r },
		func(cfg *config.Config, log *zap.Logger, r *Registry, m *prometheus.Registry) *Server {
			return NewServer(cfg.Listen, log, r, m)
		},
	),
	fx.Invoke(func(lc fx.Lifecycle, s *Server) { lc.Append(fx.StartStopHook(s.Start, s.Stop)) }),
)
