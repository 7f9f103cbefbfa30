package reporter

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/version"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the *Reporter. Its lifecycle hook is added when it is
// built, so it starts before and stops after every component that uses it:
// their last responses are flushed by its Stop.
var Module = fx.Module("reporter",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("reporter") }),
	fx.Provide(provide),
	fx.Invoke(func(*Reporter) {}), // heartbeats even before anything sends
)

type moduleParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Config     *config.Config
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	Health     *health.Registry
}

func provide(p moduleParams) (*Reporter, error) {
	r, err := New(Params{
		Config:     p.Config,
		Logger:     p.Logger,
		Registerer: p.Registerer,
		Health:     p.Health,
		Version:    version.Version,
	})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartStopHook(r.Start, r.Stop))
	return r, nil
}
