package conversation

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/disk"
	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the turn manager, fed by the handler and reporting through
// the reporter, and sets the reporter's heartbeat figures.
var Module = fx.Module("conversation",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("conversation") }),
	fx.Provide(func(cfg *config.Config, log *zap.Logger, reg prometheus.Registerer, rep *reporter.Reporter,
		sb *sandbox.Manager, ws *workspace.Manager, gate *relay.Relay,
		dw *disk.Watcher, dl *disk.Limits, floor *disk.Floor) (*Manager, error) {
		return New(Params{Config: cfg, Logger: log, Registerer: reg, Sink: rep, Sandboxes: sb, Workspaces: ws, Gate: gate,
			Disk: dw, Volumes: dl, Floor: floor})
	}),
	fx.Invoke(func(lc fx.Lifecycle, m *Manager, rep *reporter.Reporter, floor *disk.Floor) {
		floor.OnOpen(m.pump) // free space back: start what waits
		rep.SetStatus(m.Status)
		lc.Append(fx.StartStopHook(m.Start, m.Stop))
	}),
)
