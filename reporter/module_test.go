package reporter_test

import (
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/reporter"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zaptest"
)

func TestModuleWiring(t *testing.T) {
	orch := newOrchestrator(t)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.RunnerID, cfg.RunnerToken, cfg.OrchestratorURL = testRunnerID, testToken, orch.URL
	cfg.Listen = "127.0.0.1:0"
	opts := fx.Options(fx.Supply(cfg, zaptest.NewLogger(t)), health.Module, reporter.Module, fx.NopLogger)
	if err := fx.ValidateApp(opts); err != nil {
		t.Fatalf("validate: %v", err)
	}
	var reg *health.Registry
	app := fxtest.New(t, opts, fx.Populate(&reg))
	app.RequireStart()
	// The module builds and starts the reporter by itself: the heartbeat at start arrives.
	if len(orch.Heartbeats()) == 0 {
		h := &harness{t: t, orch: orch}
		h.waitUntil("a heartbeat from the fx-built reporter", func() bool { return len(orch.Heartbeats()) > 0 })
	}
	if ready, reason := reg.Component(reporter.ReadinessComponent).IsReady(); !ready {
		t.Fatalf("not ready after start: %s", reason)
	}
	app.RequireStop()
}
