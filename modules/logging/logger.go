package logging

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Dir is where the log files of a data dir live.
func Dir(dataDir string) string { return filepath.Join(dataDir, "logs") }

// Logger is the runner's root logger and the files behind it.
type Logger struct {
	*zap.Logger
	files []*lumberjack.Logger
}

// Option changes how New builds the logger.
type Option func(*options)

type options struct{ console zapcore.Level }

// ConsoleLevel sets the lowest level printed on stderr (the files are unchanged).
func ConsoleLevel(l zapcore.Level) Option { return func(o *options) { o.console = l } }

// New builds the logger for cfg. Close flushes and closes the files.
func New(cfg *config.Config, opts ...Option) (*Logger, error) {
	o := options{console: zapcore.InfoLevel}
	if cfg.Debug {
		o.console = zapcore.DebugLevel
	}
	for _, opt := range opts {
		opt(&o)
	}
	dir := Dir(cfg.DataDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log dir %s: %w", dir, err)
	}
	l := &Logger{}
	cores := []zapcore.Core{
		zapcore.NewCore(consoleEncoder(os.Stderr), zapcore.Lock(os.Stderr), o.console),
		l.fileCore(cfg, filepath.Join(dir, "combined.log"), zapcore.InfoLevel),
		l.fileCore(cfg, filepath.Join(dir, "error.log"), zapcore.ErrorLevel),
	}
	if cfg.Debug {
		cores = append(cores, l.fileCore(cfg, filepath.Join(dir, "debug.log"), zapcore.DebugLevel))
	}
	l.Logger = zap.New(zapcore.NewTee(cores...), zap.ErrorOutput(zapcore.Lock(os.Stderr)))
	return l, nil
}

// Close flushes the logger and closes the log files.
func (l *Logger) Close() error {
	err := l.Sync()
	if errors.Is(err, os.ErrInvalid) || isStderrSyncError(err) {
		err = nil // stderr cannot always be synced (a pipe or a terminal); that is not a failure
	}
	for _, f := range l.files {
		err = errors.Join(err, f.Close())
	}
	return err
}

func (l *Logger) fileCore(cfg *config.Config, path string, level zapcore.Level) zapcore.Core {
	f := &lumberjack.Logger{
		Filename:   path,
		MaxSize:    wholeUnits(int64(cfg.Log.MaxSize), 1<<20),
		MaxBackups: cfg.Log.MaxBackups,
		MaxAge:     wholeUnits(int64(cfg.Log.MaxAge), int64(24*time.Hour)),
	}
	l.files = append(l.files, f)
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(f), level)
}

func consoleEncoder(f *os.File) zapcore.Encoder {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	enc.EncodeCaller = nil
	enc.CallerKey = ""
	enc.StacktraceKey = ""
	if term.IsTerminal(int(f.Fd())) {
		enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
	} else {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
	}
	return zapcore.NewConsoleEncoder(enc)
}

// wholeUnits rounds n up to whole units (lumberjack counts megabytes and days); 0 stays 0.
func wholeUnits(n, unit int64) int {
	if n <= 0 {
		return 0
	}
	return int(math.Ceil(float64(n) / float64(unit)))
}

func isStderrSyncError(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Path == os.Stderr.Name()
}
