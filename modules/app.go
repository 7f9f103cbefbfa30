package modules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/claudette-dev/claudette-runner/images"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/disk"
	"github.com/claudette-dev/claudette-runner/modules/handler"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/logging"
	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/version"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/claudette-dev/claudette-runner/sync"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// startTimeout bounds Start: engine probes and opening state files, never a turn.
const startTimeout = 2 * time.Minute

// Graph is the runner's whole fx graph for cfg, logging to log. Modules are
// listed in the order of the flow's dependencies, so components start in this
// order (the intake last, once turns can run) and stop in reverse (the intake
// first, the reporter after every producer, so their last answers are flushed).
func Graph(cfg *config.Config, log *zap.Logger) fx.Option {
	return fx.Options(
		fx.Supply(cfg, log),
		fx.WithLogger(logging.FxLogger),
		health.Module,
		images.Module,
		sandbox.Module,
		relay.Module,
		disk.Module, // before workspace, which makes checkouts in its volumes
		fx.Provide(fx.Annotate(func(l *disk.Limits) *disk.Limits { return l }, fx.As(new(workspace.Volumes)))),
		workspace.Module,
		reporter.Module,
		conversation.Module,
		handler.Module,
		sync.Module,
	)
}

// App is a runner: the fx application of Graph with its logger.
type App struct {
	fx     *fx.App
	logger *logging.Logger
	cfg    *config.Config
}

// New builds the runner for a validated configuration. Extra options are added to
// the graph (tests use them to reach components). Nothing runs until Start.
func New(cfg *config.Config, extra ...fx.Option) (*App, error) {
	lg, err := logging.New(cfg)
	if err != nil {
		return nil, err
	}
	app := fx.New(
		Graph(cfg, lg.Logger),
		fx.Options(extra...),
		fx.StartTimeout(startTimeout),
		fx.StopTimeout(cfg.ShutdownTimeout),
	)
	if err := app.Err(); err != nil {
		_ = lg.Close()
		return nil, fmt.Errorf("build runner: %w", err)
	}
	return &App{fx: app, logger: lg, cfg: cfg}, nil
}

// Logger is the runner's root logger.
func (a *App) Logger() *zap.Logger { return a.logger.Logger }

// Start starts every component, in dependency order. On error, what started is stopped.
func (a *App) Start(ctx context.Context) error {
	log := a.logger.Logger
	log.Info("starting runner",
		zap.String("version", version.Version),
		zap.String("runner_id", a.cfg.RunnerID),
		zap.String("data_dir", a.cfg.DataDir),
		zap.String("workspace_dir", a.cfg.WorkspaceDir))
	log.Debug("effective configuration", zap.Stringer("config", a.cfg))
	if err := a.fx.Start(ctx); err != nil {
		log.Error("runner failed to start", zap.Error(err))
		return err
	}
	log.Info("runner started")
	return nil
}

// Stop stops the runner gracefully, bounded by ctx: intake stops first, running
// turns finish or are stopped, the outbox is flushed. The log files close last.
func (a *App) Stop(ctx context.Context) error {
	log := a.logger.Logger
	log.Info("stopping runner")
	err := a.fx.Stop(ctx)
	if err != nil {
		log.Error("runner did not stop cleanly", zap.Error(err))
	} else {
		log.Info("runner stopped")
	}
	return errors.Join(err, a.logger.Close())
}
