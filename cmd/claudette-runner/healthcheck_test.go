package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/health"
	"go.uber.org/zap"
)

// startHealthServer runs the daemon's real health endpoint on a free loopback
// port and returns its address and readiness registry.
func startHealthServer(t *testing.T, listen string) (string, *health.Registry) {
	t.Helper()
	reg := health.NewRegistry()
	srv := health.NewServer(listen, zap.NewNop(), reg, health.NewMetrics())
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv.Addr(), reg
}

func TestHealthcheckAgainstTheHealthEndpoint(t *testing.T) {
	addr, reg := startHealthServer(t, "127.0.0.1:0")
	reg.Component("sandbox").NotReady("starting")

	code, out, errOut := runCLI(t, nil, "healthcheck", "--listen", addr)
	if code != exitOK || !strings.Contains(out, "/healthz") {
		t.Fatalf("alive daemon: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, nil, "healthcheck", "--listen", addr, "--ready")
	if code != exitFailed || !strings.Contains(errOut, "HTTP 503") {
		t.Fatalf("--ready on a daemon not ready: exit %d, stderr %q", code, errOut)
	}
	reg.Component("sandbox").Ready()
	if code, _, errOut = runCLI(t, nil, "healthcheck", "--listen", addr, "--ready"); code != exitOK {
		t.Fatalf("--ready on a ready daemon: exit %d, stderr %q", code, errOut)
	}
	// The address comes from the environment as it does for start.
	if code, _, errOut = runCLI(t, map[string]string{"CLAUDETTE_LISTEN": addr}, "healthcheck"); code != exitOK {
		t.Fatalf("CLAUDETTE_LISTEN: exit %d, stderr %q", code, errOut)
	}
}

func TestHealthcheckWildcardListenDialsLoopback(t *testing.T) {
	addr, _ := startHealthServer(t, "0.0.0.0:0")
	_, port, _ := net.SplitHostPort(addr)
	for _, listen := range []string{"0.0.0.0:" + port, ":" + port} {
		if code, _, errOut := runCLI(t, nil, "healthcheck", "--listen", listen); code != exitOK {
			t.Fatalf("--listen %s: exit %d, stderr %q", listen, code, errOut)
		}
	}
}

func TestHealthcheckFailures(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)

	closed := freeAddr(t) // nothing listens there any more
	cases := map[string]struct {
		args []string
		want string
	}{
		"nothing listening": {args: []string{"--listen", closed}, want: "connection refused"},
		"error status":      {args: []string{"--listen", strings.TrimPrefix(broken.URL, "http://")}, want: "HTTP 500"},
		"no answer in time": {args: []string{"--listen", strings.TrimPrefix(slow.URL, "http://"), "--timeout", "300ms"}, want: "deadline exceeded"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, append([]string{"healthcheck"}, tc.args...)...)
			if code != exitFailed || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 mentioning %q", code, errOut, tc.want)
			}
		})
	}
}

func TestDialAddr(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:9464": "127.0.0.1:9464",
		"0.0.0.0:9464":   "127.0.0.1:9464",
		":9464":          "127.0.0.1:9464",
		"[::]:9464":      "[::1]:9464",
		"10.1.2.3:80":    "10.1.2.3:80",
		"runner:9464":    "runner:9464",
	}
	for in, want := range cases {
		if got := dialAddr(in); got != want {
			t.Errorf("dialAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
