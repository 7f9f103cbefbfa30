package sync

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides *Intake and runs it with the application. The Handler
// comes from the graph; a Responder is optional (without one, invalid rows
// are only logged).
var Module = fx.Module("sync",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("sync") }),
	fx.Provide(newFromGraph),
	fx.Invoke(func(lc fx.Lifecycle, i *Intake) { lc.Append(fx.StartStopHook(i.Start, i.Stop)) }),
)

type moduleParams struct {
	fx.In
	Config    *config.Config
	Logger    *zap.Logger
	Metrics   prometheus.Registerer
	Health    *health.Registry
	Handler   Handler
	Responder Responder `optional:"true"`
	Gate      Gate      `optional:"true"`
}

func newFromGraph(p moduleParams) (*Intake, error) {
	return New(Params{Config: p.Config, Logger: p.Logger, Metrics: p.Metrics, Health: p.Health,
		Handler: p.Handler, Responder: p.Responder, Gate: p.Gate})
}
