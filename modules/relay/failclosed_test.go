package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/moby/moby/client"
	"go.uber.org/zap/zaptest"
)

// fakeEngine answers /info with the given runtimes, as the Docker engine does.
func fakeEngine(t *testing.T, runtimes map[string]any) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/info") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"Runtimes": runtimes, "DefaultRuntime": "runc"})
	}))
	t.Cleanup(srv.Close)
	cli, err := client.New(client.WithHost("tcp://"+srv.Listener.Addr().String()), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// When the relay cannot be set up, /readyz says why and every turn is
// refused with the reason: the caller never starts a sandbox without it.
func TestRelayFailsClosed(t *testing.T) {
	runsc := map[string]any{"path": "/usr/bin/runsc", "runtimeArgs": []string{"--network=none"}}
	cases := map[string]struct {
		binary   string
		runtime  string
		runtimes map[string]any
		reason   string
	}{
		"gVisor without host-uds": {binary: shimBinary, runtime: "runsc", runtimes: map[string]any{"runsc": runsc}, reason: "--host-uds=open"},
		"gVisor by another name": {binary: shimBinary, runtime: "gvisor",
			runtimes: map[string]any{"gvisor": runsc}, reason: "--host-uds=open"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, "http://127.0.0.1:1")
			cfg.Sandbox.Runtime = c.runtime
			reg := health.NewRegistry()
			p := Params{Config: cfg, Logger: zaptest.NewLogger(t), Health: reg, Binary: c.binary}
			if c.runtimes != nil {
				p.Docker = fakeEngine(t, c.runtimes)
			}
			r, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Stop(context.Background()) })
			ready, comps := reg.Status()
			if ready || len(comps) != 1 || !strings.Contains(comps[0].Reason, c.reason) {
				t.Errorf("readiness %v %+v, want not ready with %q", ready, comps, c.reason)
			}
			a, err := r.Open(context.Background(), Turn{MessageID: "m-1", WorkspaceID: "ws-1", ConversationID: "c-1"})
			if err == nil || !strings.Contains(err.Error(), c.reason) || a != nil {
				t.Errorf("open: %v, want an error with %q", err, c.reason)
			}
			if entries, _ := os.ReadDir(filepath.Join(cfg.DataDir, "run", "turns")); len(entries) > 0 {
				t.Errorf("a turn dir was made: %v", entries)
			}
		})
	}
}

// A shim binary that cannot start in a sandbox stops the runner at start
// with the reason and the fix (not a failure at every turn); Check, what
// validate runs, says the same.
func TestRelayRefusesAShimThatCannotStart(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ binary, reason string }{
		"another program":   {binary: "/bin/ls", reason: "does not start as the runner's sandbox-shim"},
		"not an executable": {binary: notELF, reason: "not an ELF executable"},
		"missing binary":    {binary: filepath.Join(t.TempDir(), "none"), reason: "no such file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, "http://127.0.0.1:1")
			r, err := New(Params{Config: cfg, Logger: zaptest.NewLogger(t), Binary: c.binary})
			if err != nil {
				t.Fatal(err)
			}
			err = r.Start(context.Background())
			t.Cleanup(func() { _ = r.Stop(context.Background()) })
			if !errors.Is(err, ErrShim) || !strings.Contains(err.Error(), c.reason) || strings.Contains(err.Error(), "\n") {
				t.Errorf("start: %v, want one line with %q", err, c.reason)
			}
			if err := r.Check(context.Background()); !errors.Is(err, ErrShim) || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("check: %v, want %q", err, c.reason)
			}
		})
	}
	r, err := New(Params{Config: testConfig(t, "http://127.0.0.1:1"), Binary: shimBinary})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background()); err != nil {
		t.Errorf("check of the runner itself: %v", err)
	}
}

// gVisor registered with --host-uds=open carries the relay.
func TestRelayAcceptsGVisorWithHostUDS(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.Sandbox.Runtime = "runsc"
	docker := fakeEngine(t, map[string]any{"runsc": map[string]any{"path": "/usr/bin/runsc", "runtimeArgs": []string{"--network=none", "--host-uds=open"}}})
	r, err := New(Params{Config: cfg, Logger: zaptest.NewLogger(t), Docker: docker, Binary: shimBinary})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	a, err := r.Open(context.Background(), Turn{MessageID: "m-1", WorkspaceID: "ws-1", ConversationID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// Bad settings are refused before anything starts.
func TestNewRefusesBadSettings(t *testing.T) {
	for name, mutate := range map[string]func(*config.Config){
		"base URL not http":  func(c *config.Config) { c.Model.BaseURL = "ftp://example.com" },
		"base URL no host":   func(c *config.Config) { c.Model.BaseURL = "https://" },
		"bad egress rule":    func(c *config.Config) { c.Sandbox.EgressAllow = []string{"a.*.com"} },
		"credentials in URL": func(c *config.Config) { c.Model.BaseURL = "https://user:pw@gateway.example" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, "")
			mutate(cfg)
			if _, err := New(Params{Config: cfg}); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// --sandbox-network open: the engine's bridge, with the relay still the way
// to the model, and a warning at every sandbox start.
func TestOpenNetworkWarnsAtEveryStart(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.Sandbox.Network = config.NetworkOpen
	f := startRelay(t, cfg)
	for range 2 {
		a := f.open(t, "")
		if a.NetworkMode != "bridge" || !strings.Contains(strings.Join(a.Env, " "), "ANTHROPIC_BASE_URL=http://127.0.0.1:4141") {
			t.Errorf("open mode access: network %q, env %q", a.NetworkMode, a.Env)
		}
	}
	if n := strings.Count(f.logs.String(), "sandbox network is open for this turn"); n != 2 {
		t.Errorf("%d warnings for 2 sandbox starts", n)
	}
	cfg2 := testConfig(t, "http://127.0.0.1:1")
	g := startRelay(t, cfg2)
	if a := g.open(t, ""); a.NetworkMode != sandbox.NetworkNone {
		t.Errorf("isolated mode network %q", a.NetworkMode)
	}
}

// On this engine: every runtime that is gVisor is refused unless it was
// registered with --host-uds, and the default runtime is accepted.
func TestRealEngineRuntimes(t *testing.T) {
	docker, err := sandbox.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	info, err := docker.Info(context.Background(), client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, rt := range info.Info.Runtimes {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, "http://127.0.0.1:1")
			cfg.Sandbox.Runtime = name
			r, err := New(Params{Config: cfg, Logger: zaptest.NewLogger(t), Docker: docker, Binary: shimBinary})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer r.Stop(context.Background())
			gvisor := filepath.Base(rt.Path) == "runsc" || strings.Contains(rt.Type, "runsc")
			hostUDS := strings.Contains(strings.Join(rt.Args, " "), "host-uds")
			a, err := r.Open(context.Background(), Turn{MessageID: "m-1", WorkspaceID: "ws-1", ConversationID: "c-1"})
			if gvisor && !hostUDS {
				t.Logf("%s is gVisor without --host-uds (args %q): refused as expected", name, rt.Args)
				if err == nil || !strings.Contains(err.Error(), "--host-uds=open") {
					t.Errorf("open under %s: %v, want the host-uds refusal", name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("open under %s: %v", name, err)
			}
			a.Close()
		})
	}
}
