package handler

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sync"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the handler as the intake's sync.Handler, and the reporter
// as its sync.Responder.
var Module = fx.Module("handler",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("handler") }),
	fx.Provide(
		func(cfg *config.Config, log *zap.Logger, m *conversation.Manager, rep *reporter.Reporter) sync.Handler {
			return New(cfg, log, m, rep)
		},
		func(rep *reporter.Reporter) sync.Responder { return rep },
	),
)
