package handler

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sync"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the handler as the intake's sync.Handler, the reporter as
// its sync.Responder, and its sync.Gate (gate.go).
var Module = fx.Module("handler",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("handler") }),
	fx.Provide(
		func(lc fx.Lifecycle, cfg *config.Config, log *zap.Logger, m *conversation.Manager, rep *reporter.Reporter) sync.Handler {
			h := New(cfg, log, m, rep)
			// Added when built, i.e. after the turn manager's hook and before the
			// intake's: on stop the intake stops first, then deletions finish.
			lc.Append(fx.StopHook(h.Stop))
			return h
		},
		func(rep *reporter.Reporter) sync.Responder { return rep },
		func(m *conversation.Manager, rep *reporter.Reporter) sync.Gate { return NewGate(m, rep) },
	),
)
