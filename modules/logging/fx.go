package logging

import (
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// FxLogger routes fx's own event log to zap at debug level, so a normal start
// prints only the runner's few lines. fx's errors go to debug too: the runner
// logs a failed start or stop once itself, with the cause.
func FxLogger(l *zap.Logger) fxevent.Logger {
	zl := &fxevent.ZapLogger{Logger: l.Named("fx")}
	zl.UseLogLevel(zapcore.DebugLevel)
	zl.UseErrorLevel(zapcore.DebugLevel)
	return zl
}
