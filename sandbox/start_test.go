package sandbox_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/containerd/errdefs"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

// TestStartProbe: the probe reports what this engine enforces and the
// manager is ready.
func TestStartProbe(t *testing.T) {
	e := startManager(t, testConfig(t))
	c := e.m.Capabilities()
	t.Logf("capabilities: %+v", c)
	if c.EngineVersion == "" || c.APIVersion == "" || c.CgroupVersion == "" || c.CgroupDriver == "" || c.Runtime == "" {
		t.Errorf("incomplete capabilities %+v", c)
	}
	if !c.MemoryLimit || !c.SwapLimit || !c.CPULimit || !c.PidsLimit || !c.Seccomp || len(c.Problems) != 0 {
		t.Errorf("this engine enforces every limit, got %+v", c)
	}
	if ready, status := e.health.Status(); !ready {
		t.Errorf("not ready after start: %+v", status)
	}
}

// TestStartRuntimeMissing: an unknown runtime fails the start with a clear
// error, before anything else.
func TestStartRuntimeMissing(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sandbox.Runtime = "no-such-runtime"
	e := newManager(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := e.m.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), `sandbox runtime "no-such-runtime" (--sandbox-runtime) is not registered`) ||
		!strings.Contains(err.Error(), "runc") {
		t.Fatalf("start error %v", err)
	}
	ready, status := e.health.Status()
	if ready || len(status) != 1 || !strings.Contains(status[0].Reason, "no-such-runtime") {
		t.Errorf("readiness %v %+v", ready, status)
	}
	if _, err := e.m.Run(ctx, e.spec("ws-x", "PROBE report\n")); !errdefs.IsUnavailable(err) {
		t.Errorf("run on a manager that did not start: %v", err)
	}
}

// TestStartImageMissing: with pull never, a missing image fails the start.
func TestStartImageMissing(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sandbox.Image = "claudette-test/absent:" + randHex(4)
	e := newManager(t, cfg)
	err := e.m.Start(context.Background())
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "pull policy is \"never\"") {
		t.Errorf("start error %v", err)
	}
}

// TestSpecRejected: specs that would weaken the sandbox never reach the engine.
func TestSpecRejected(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sandbox.AllowedImages = []string{"claudette-test/**"}
	e := startManager(t, cfg)
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := listenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cases := map[string]struct {
		mutate func(*sandbox.Spec)
		class  func(error) bool
	}{
		"bad workspace id":  {func(s *sandbox.Spec) { s.WorkspaceID = "../etc" }, errdefs.IsInvalidArgument},
		"empty command":     {func(s *sandbox.Spec) { s.Cmd = nil }, errdefs.IsInvalidArgument},
		"relative checkout": {func(s *sandbox.Spec) { s.Checkout = "relative/dir" }, errdefs.IsInvalidArgument},
		"missing checkout":  {func(s *sandbox.Spec) { s.Checkout = "/nonexistent/" + randHex(4) }, errdefs.IsInvalidArgument},
		"socket mount": {func(s *sandbox.Spec) {
			s.Mounts = append(s.Mounts, sandbox.Mount{Source: sock, Target: "/var/run/docker.sock"})
		}, errdefs.IsInvalidArgument},
		"host root mount":    {func(s *sandbox.Spec) { s.Mounts = append(s.Mounts, sandbox.Mount{Source: "/", Target: "/host"}) }, errdefs.IsInvalidArgument},
		"reserved target":    {func(s *sandbox.Spec) { s.Mounts[0].Target = "/etc/cfg" }, errdefs.IsInvalidArgument},
		"host network":       {func(s *sandbox.Spec) { s.NetworkMode = "host" }, errdefs.IsInvalidArgument},
		"other's network":    {func(s *sandbox.Spec) { s.NetworkMode = "container:abc" }, errdefs.IsInvalidArgument},
		"bad env":            {func(s *sandbox.Spec) { s.Env = []string{"NOEQUALS"} }, errdefs.IsInvalidArgument},
		"image not allowed":  {func(s *sandbox.Spec) { s.Image = "busybox:latest" }, errdefs.IsPermissionDenied},
		"image not present":  {func(s *sandbox.Spec) { s.Image = "claudette-test/absent:" + randHex(4) }, errdefs.IsNotFound},
		"stdin over the cap": {func(s *sandbox.Spec) { s.Stdin = make([]byte, sandbox.MaxStdin+1) }, errdefs.IsInvalidArgument},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := e.spec("ws-rejected", "PROBE report\n")
			tc.mutate(&s)
			r, err := e.m.Run(context.Background(), s)
			if err == nil {
				collect(t, r)
				t.Fatal("run started")
			}
			if !tc.class(err) {
				t.Errorf("error %v has the wrong class", err)
			}
		})
	}
}

// TestFiles: the agent's files belong to the sandbox user and the runner can
// remove whatever the agent left, with or without the helper container.
func TestFiles(t *testing.T) {
	e := startManager(t, testConfig(t))
	dir := filepath.Join(t.TempDir(), "checkout")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("root's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.m.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "f")} {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil || st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("%s owned by %d:%d (%v), want 1000:1000", p, st.Uid, st.Gid, err)
		}
	}
	spec := e.spec("ws-files", "")
	spec.Checkout = dir
	spec.Cmd = []string{"/bin/sh", "-c", `mkdir -p a/b/c && echo x > a/b/c/f && ln -s /etc/passwd a/link && chmod 000 a/b/c a/b a && ls -ld a`}
	if _, st := collect(t, e.run(spec)); !st.OK() {
		t.Fatalf("status %+v", st)
	}
	ctx := context.Background()
	if err := e.m.RemoveTree(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", dir, err)
	}

	// The helper container, for when the runner itself cannot delete.
	dir2 := e.hostDir("ws-helper")
	spec.Checkout = dir2
	if _, st := collect(t, e.run(spec)); !st.OK() {
		t.Fatalf("status %+v", st)
	}
	if err := e.m.RemoveWithHelper(ctx, dir2); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir2)
	if err != nil || len(entries) != 0 {
		t.Errorf("helper left %v (%v)", entries, err)
	}
}

// TestModule: the fx wiring builds and starts the manager.
func TestModule(t *testing.T) {
	cfg := testConfig(t)
	app := fxtest.New(t,
		fx.Supply(cfg),
		fx.Provide(zap.NewNop, health.NewRegistry, func() prometheus.Registerer { return prometheus.NewRegistry() }),
		images.Module,
		sandbox.Module,
		fx.Invoke(func(m *sandbox.Manager, s *images.Store) {}),
	)
	app.RequireStart()
	app.RequireStop()
	if err := fx.ValidateApp(fx.NopLogger, fx.Supply(cfg), fx.Provide(zap.NewNop, health.NewRegistry, func() prometheus.Registerer { return prometheus.NewRegistry() }),
		images.Module, sandbox.Module); err != nil {
		t.Fatal(err)
	}
}

func listenUnix(path string) (net.Listener, error) { return net.Listen("unix", path) }
