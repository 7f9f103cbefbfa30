package modules

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Sources{LookupEnv: func(string) (string, bool) { return "", false }, Overrides: map[string]string{
		"dataDir":         filepath.Join(t.TempDir(), "data"),
		"workspaceDir":    filepath.Join(t.TempDir(), "ws"),
		"listen":          "127.0.0.1:0",
		"runnerToken":     "tok",
		"electricUrl":     "http://127.0.0.1:1",
		"orchestratorUrl": "http://127.0.0.1:1/rpc",
		"sandbox.image":   demotest.Image(t),
		"runnerId":        "test-modules",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Validate(); len(p) > 0 {
		t.Fatal(p)
	}
	return cfg
}

func TestGraphIsValid(t *testing.T) {
	if err := fx.ValidateApp(Graph(testConfig(t), zap.NewNop())); err != nil {
		t.Fatal(err)
	}
}

func TestAppStartStop(t *testing.T) {
	cfg := testConfig(t)
	var srv *health.Server
	app, err := New(cfg, fx.Populate(&srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = app.Stop(ctx)
		}
	})
	url := "http://" + srv.Addr() + "/healthz"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("health endpoint does not answer while running: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while running: %s", resp.Status)
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if resp, err := http.Get(url); err == nil {
		_ = resp.Body.Close()
		t.Fatal("health endpoint still answers after Stop")
	}
}
