package relay

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the *Relay, started and stopped with the application. It
// needs the Docker client of sandbox.Module (to check the runtime).
var Module = fx.Module("relay",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("relay") }),
	fx.Provide(newFromFx),
	fx.Invoke(func(lc fx.Lifecycle, r *Relay) { lc.Append(fx.StartStopHook(r.Start, r.Stop)) }),
)

type fxParams struct {
	fx.In
	Config  *config.Config
	Logger  *zap.Logger
	Metrics prometheus.Registerer
	Health  *health.Registry
	Docker  *client.Client
}

func newFromFx(p fxParams) (*Relay, error) {
	return New(Params{Config: p.Config, Logger: p.Logger, Registerer: p.Metrics, Health: p.Health, Docker: p.Docker})
}
