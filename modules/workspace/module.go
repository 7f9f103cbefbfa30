package workspace

import (
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the workspace *Manager.
var Module = fx.Module("workspace",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("workspace") }),
	fx.Provide(New),
)
