package relay

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// BenchmarkFirstByte measures what the relay adds to the time to the first
// streamed byte of a Messages call: the same request straight to the
// upstream, through the relay's socket, and through the shim (loopback TCP
// in, Unix socket out, as inside a sandbox) and the relay. Connections are
// kept alive, as the CLI keeps them; "fresh" opens one per request.
//
//	go test -run '^$' -bench FirstByte -benchtime 2000x ./modules/relay/
func BenchmarkFirstByte(b *testing.B) {
	up := newUpstream(b)
	cfg := testConfig(b, up.URL)
	r, err := New(Params{Config: cfg, Binary: shimBinary})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	a, err := r.Open(context.Background(), Turn{MessageID: "bench", WorkspaceID: "ws-1", ConversationID: "c-1"})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()

	// The shim, as in a sandbox, forwarding a loopback port to the socket.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	shimAddr := ln.Addr().String()
	ln.Close()
	shim := exec.Command(shimBinary, ShimCommand, "--forward", shimAddr+"="+socketOf(a, modelSocket), "--", busybox, "sleep", "3600")
	if err := shim.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = shim.Process.Kill(); _ = shim.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", shimAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the shim does not listen")
		}
	}

	tcp := func(fresh bool) *http.Client {
		return &http.Client{Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: fresh}}
	}
	unix := func(fresh bool) *http.Client {
		c := socketClient(socketOf(a, modelSocket))
		c.Transport.(*http.Transport).DisableKeepAlives = fresh
		return c
	}
	for _, fresh := range []bool{false, true} {
		suffix := ""
		if fresh {
			suffix = "/fresh"
		}
		for _, c := range []struct {
			name   string
			client *http.Client
			url    string
			key    string
		}{
			{"direct", tcp(fresh), up.URL, realKey},
			{"relay", unix(fresh), "http://127.0.0.1:4141", a.Token},
			{"shim+relay", tcp(fresh), "http://" + shimAddr, a.Token},
		} {
			b.Run(c.name+suffix, func(b *testing.B) {
				var total time.Duration
				for b.Loop() {
					total += firstByte(b, c.client, c.url, c.key)
				}
				b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-to-first-byte")
			})
		}
	}
}

// firstByte times one streaming call to its first body byte, then drains it.
func firstByte(b *testing.B, c *http.Client, base, key string) time.Duration {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/messages?beta=true",
		strings.NewReader(`{"model":"claude-test","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.Peek(1); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
	for {
		if _, err := br.ReadString('\n'); err != nil {
			break
		}
	}
	return d
}
