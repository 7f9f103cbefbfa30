package sandbox

import (
	"context"

	"github.com/claudette-dev/claudette-runner/images"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the Docker engine client (*client.Client, closed on stop)
// and the sandbox Manager, started and stopped with the application. It
// needs images.Module for the *images.Store.
var Module = fx.Module("sandbox",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("sandbox") }),
	fx.Provide(
		func(lc fx.Lifecycle) (*client.Client, error) {
			cli, err := NewClient()
			if err != nil {
				return nil, err
			}
			lc.Append(fx.StopHook(func(context.Context) error { return cli.Close() }))
			return cli, nil
		},
		newFromFx,
	),
	fx.Invoke(func(lc fx.Lifecycle, m *Manager) { lc.Append(fx.StartStopHook(m.Start, m.Stop)) }),
)

type fxParams struct {
	fx.In
	Config  *config.Config
	Logger  *zap.Logger
	Metrics prometheus.Registerer
	Health  *health.Registry
	Docker  *client.Client
	Images  *images.Store
}

func newFromFx(p fxParams) (*Manager, error) {
	return New(Params{Config: p.Config, Logger: p.Logger, Metrics: p.Metrics, Health: p.Health, Docker: p.Docker, Images: p.Images})
}
