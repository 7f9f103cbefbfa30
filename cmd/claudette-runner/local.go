package main

import (
	"context"
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

// startLocal starts, by hand, the components of the daemon that run a turn
// (sandbox engine, model relay, workspaces, turn manager) with sink in place of
// the reporter: what `exec` runs. The returned func stops what was started,
// also when a later component failed.
func startLocal(ctx context.Context, cfg *config.Config, log *zap.Logger, sink conversation.Sink) (*conversation.Manager, func(), error) {
	var stops []func(context.Context) error
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			_ = stops[i](context.Background())
		}
	}
	sb, err := sandbox.New(sandbox.Params{Config: cfg, Logger: log.Named("sandbox")})
	if err != nil {
		return nil, stop, err
	}
	if err := sb.Start(ctx); err != nil {
		return nil, stop, fmt.Errorf("sandbox: %w", err)
	}
	stops = append(stops, sb.Stop)
	gate, err := relay.New(relay.Params{Config: cfg, Logger: log.Named("relay"), Docker: sb.Docker()})
	if err != nil {
		return nil, stop, err
	}
	if err := gate.Start(ctx); err != nil {
		return nil, stop, fmt.Errorf("relay: %w", err)
	}
	stops = append(stops, gate.Stop)
	ws, err := workspace.New(workspace.Params{Config: cfg, Logger: log.Named("workspace")})
	if err != nil {
		return nil, stop, err
	}
	mgr, err := conversation.New(conversation.Params{Config: cfg, Logger: log.Named("conversation"), Sink: sink,
		Sandboxes: sb, Workspaces: ws, Gate: gate})
	if err != nil {
		return nil, stop, err
	}
	if err := mgr.Start(ctx); err != nil {
		return nil, stop, err
	}
	stops = append(stops, mgr.Stop)
	return mgr, stop, nil
}
