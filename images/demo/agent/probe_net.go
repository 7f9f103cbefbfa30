package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// probeConnect dials TCP host:port (default timeout 3s).
func probeConnect(ctx context.Context, _ *agent, args string) findings {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return failure("usage: PROBE connect <host:port> [timeout]")
	}
	timeout := 3 * time.Second
	if len(fields) > 1 {
		d, err := parseDuration(fields[1])
		if err != nil {
			return failErr(err)
		}
		timeout = d
	}
	start := time.Now()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", fields[0])
	ms := time.Since(start).Milliseconds()
	if err != nil {
		return failErr(err, "addr", fields[0], "ms", ms)
	}
	defer conn.Close()
	return success("addr", fields[0], "remote", conn.RemoteAddr().String(), "ms", ms)
}

// probeResolve looks a host name up (timeout 5s).
func probeResolve(ctx context.Context, _ *agent, args string) findings {
	name := strings.TrimSpace(args)
	if name == "" {
		return failure("usage: PROBE resolve <name>")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil {
		return failErr(err, "name", name)
	}
	return success("name", name, "addrs", addrs)
}

func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}
}

// probeHTTP GETs a URL through HTTP_PROXY/HTTPS_PROXY/NO_PROXY and reports
// the status and the first bytes of the body.
func probeHTTP(ctx context.Context, _ *agent, args string) findings {
	url := strings.TrimSpace(args)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return failErr(err, "url", url)
	}
	proxy := ""
	if p, err := http.ProxyFromEnvironment(req); err == nil && p != nil {
		proxy = p.Redacted()
	}
	start := time.Now()
	resp, err := httpClient(15 * time.Second).Do(req)
	if err != nil {
		return failErr(err, "url", url, "proxy", proxy, "ms", time.Since(start).Milliseconds())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return success("url", url, "proxy", proxy, "status", resp.StatusCode, "body", string(body),
		"ms", time.Since(start).Milliseconds())
}

// probeModel makes one streaming Messages API call the way the CLI does:
// POST $ANTHROPIC_BASE_URL/v1/messages?beta=true with x-api-key (or a
// bearer token), reads the whole SSE response and times it.
func probeModel(ctx context.Context, a *agent, _ string) findings {
	base := strings.TrimRight(os.Getenv("ANTHROPIC_BASE_URL"), "/")
	if base == "" {
		base = "https://api.anthropic.com"
	}
	url := base + "/v1/messages?beta=true"
	body, _ := json.Marshal(map[string]any{
		"model": a.model, "max_tokens": 64, "stream": true,
		"messages": []map[string]any{{"role": "user", "content": "PROBE model: say hi"}},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return failErr(err, "url", url)
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("anthropic-beta", "claude-code-20250219")
	req.Header.Set("x-app", "cli")
	req.Header.Set("user-agent", "claude-cli/"+Version+" (external, sdk-cli)")
	req.Header.Set("accept", "application/json")
	if a.sess != nil {
		req.Header.Set("x-claude-code-session-id", a.sess.id)
	}
	auth := "none"
	switch {
	case os.Getenv("ANTHROPIC_API_KEY") != "":
		req.Header.Set("x-api-key", os.Getenv("ANTHROPIC_API_KEY"))
		auth = "x-api-key"
	case os.Getenv("ANTHROPIC_AUTH_TOKEN") != "":
		req.Header.Set("authorization", "Bearer "+os.Getenv("ANTHROPIC_AUTH_TOKEN"))
		auth = "bearer"
	}
	start := time.Now()
	resp, err := httpClient(60 * time.Second).Do(req)
	if err != nil {
		return failErr(err, "url", url, "auth", auth, "ms", time.Since(start).Milliseconds())
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var ttfb time.Duration
	if _, err := br.Peek(1); err == nil {
		ttfb = time.Since(start)
	}
	var total, events int64
	var head []byte
	for {
		line, err := br.ReadBytes('\n')
		total += int64(len(line))
		if bytes.HasPrefix(line, []byte("event:")) {
			events++
		}
		if len(head) < 256 {
			head = append(head, line[:min(len(line), 256-len(head))]...)
		}
		if err != nil {
			if err != io.EOF {
				return failErr(err, "url", url, "status", resp.StatusCode, "bytes", total)
			}
			break
		}
	}
	f := success("url", url, "auth", auth, "status", resp.StatusCode, "bytes", total, "events", events,
		"ttfb_ms", ttfb.Milliseconds(), "ms", time.Since(start).Milliseconds(), "head", string(head))
	if resp.StatusCode/100 != 2 {
		f["ok"], f["error"] = false, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return f
}
