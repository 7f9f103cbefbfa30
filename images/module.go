package images

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/moby/moby/client"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the image Store built from the sandbox configuration. It
// needs a *client.Client (package sandbox provides it).
var Module = fx.Module("images",
	fx.Decorate(func(l *zap.Logger) *zap.Logger { return l.Named("images") }),
	fx.Provide(func(cfg *config.Config, log *zap.Logger, cli *client.Client) (*Store, error) {
		return New(Params{Config: cfg, Logger: log, Docker: cli})
	}),
)
