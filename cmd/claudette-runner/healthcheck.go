package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"
)

type healthcheckFlags struct {
	timeout time.Duration
	ready   bool
}

func healthcheckCommand() *command {
	f := &healthcheckFlags{}
	return &command{
		name:     "healthcheck",
		summary:  "exit 0 when the running daemon's /healthz answers 200 (for container health checks)",
		settings: true,
		flags: func(fs *pflag.FlagSet) {
			fs.DurationVar(&f.timeout, "timeout", 3*time.Second, "how long to wait for the answer")
			fs.BoolVar(&f.ready, "ready", false, "check /readyz instead: every component ready")
		},
		run: func(inv *invocation) int { return runHealthcheck(inv, f) },
	}
}

// runHealthcheck asks the daemon at --listen (read like start reads it: flag,
// environment, config file) whether it is alive, or ready with --ready. It is
// what the image's HEALTHCHECK runs, since the image has no curl. Problems in
// unrelated settings do not matter here: only the address is used.
func runHealthcheck(inv *invocation, f *healthcheckFlags) int {
	cfg, _ := inv.loadConfig()
	path := "/healthz"
	if f.ready {
		path = "/readyz"
	}
	url := "http://" + dialAddr(cfg.Listen) + path
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	status, err := probeHTTP(ctx, url)
	if err != nil {
		fmt.Fprintf(inv.stderr, "claudette-runner healthcheck: %s: %v\n", url, err)
		return exitFailed
	}
	if status != http.StatusOK {
		fmt.Fprintf(inv.stderr, "claudette-runner healthcheck: %s: HTTP %d\n", url, status)
		return exitFailed
	}
	fmt.Fprintf(inv.stdout, "ok: %s\n", url)
	return exitOK
}

// dialAddr turns a listen address into one to connect to: an unspecified
// host (":9464", "0.0.0.0:9464", "[::]:9464") becomes the loopback address.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}

// probeHTTP GETs url directly (never through a proxy from the environment)
// and returns the status code.
func probeHTTP(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
