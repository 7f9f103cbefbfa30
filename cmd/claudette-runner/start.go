package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/claudette-dev/claudette-runner/modules"
	"go.uber.org/zap"
)

func startCommand() *command {
	return &command{name: "start", summary: "run the daemon (default)", settings: true, run: runStart}
}

// runStart runs the daemon until SIGINT or SIGTERM. The first signal starts a
// graceful stop bounded by --shutdown-timeout; a second one stops at once.
func runStart(inv *invocation) int {
	cfg, problems := inv.loadConfig()
	problems = append(problems, cfg.Validate()...)
	if len(problems) > 0 {
		printProblems(inv.stderr, problems)
		fmt.Fprintf(inv.stderr, "claudette-runner: %d configuration problem(s); not started\n", len(problems))
		return exitFailed
	}
	app, err := modules.New(cfg)
	if err != nil {
		fmt.Fprintf(inv.stderr, "claudette-runner: %v\n", err)
		return exitFailed
	}
	log := app.Logger()

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	startCtx, cancelStart := context.WithCancel(context.Background())
	go func() {
		// A signal during start aborts it.
		select {
		case sig := <-signals:
			log.Warn("signal during start, aborting", zap.String("signal", sig.String()))
			cancelStart()
		case <-startCtx.Done():
		}
	}()
	err = app.Start(startCtx)
	startAborted := startCtx.Err() != nil
	cancelStart()
	if err != nil || startAborted {
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		stopErr := app.Stop(stopCtx)
		if startAborted && stopErr == nil {
			return exitOK // a stop the operator asked for, while starting
		}
		fmt.Fprintf(inv.stderr, "claudette-runner: start failed: %v\n", err)
		return exitFailed
	}

	sig := <-signals
	log.Info("signal received, stopping gracefully",
		zap.String("signal", sig.String()), zap.Duration("shutdown_timeout", cfg.ShutdownTimeout))
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	forced := false
	defer func() {
		// A forced stop exits like a crash: cancelling would make the turn
		// manager stop the running sandboxes on the way out, and the next
		// start could not take them up.
		if !forced {
			cancel()
		}
	}()
	done := make(chan error, 1)
	go func() { done <- app.Stop(stopCtx) }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(inv.stderr, "claudette-runner: stop: %v\n", err)
			return exitFailed
		}
		return exitOK
	case sig := <-signals:
		forced = true
		log.Warn("second signal, stopping now; running sandboxes are left to the next start",
			zap.String("signal", sig.String()))
		_ = log.Sync()
		return exitFailed
	}
}
