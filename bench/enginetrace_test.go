package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// The real engine through the proxy: the client works and every call is
// recorded with its generalised path.
func TestEngineTraceProxiesTheRealEngine(t *testing.T) {
	trace, err := NewEngineTrace(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer trace.Close()
	cli, err := client.New(client.WithHost(trace.DockerHost()))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", "dev.claudette.none=true")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(ctx, "claudette-bench-no-such-container", client.ContainerInspectOptions{}); err == nil {
		t.Fatal("inspect of a missing container succeeded")
	}
	calls := trace.Calls()
	var seen []string
	for _, c := range calls {
		seen = append(seen, c.Method+" "+generalPath(c.Path))
		if c.Start.IsZero() || c.End.Before(c.Header) || c.Header.Before(c.Start) {
			t.Errorf("call times out of order: %+v", c)
		}
	}
	last := calls[len(calls)-1]
	if len(calls) < 2 || seen[len(seen)-2] != "GET /containers/json" || seen[len(seen)-1] != "GET /containers/{id}/json" || last.Status != http.StatusNotFound {
		t.Fatalf("calls %v, last status %d", seen, last.Status)
	}
}

// An upgraded stream (attach) is relayed both ways with half-closes, and
// its first byte from the engine is timed.
func TestEngineTraceRelaysAnUpgradedStream(t *testing.T) {
	dir := t.TempDir()
	engine := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", engine)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go fakeAttach(ln) // upper-cases stdin back after a pause, then "bye" at EOF

	trace, err := NewEngineTrace(t.TempDir(), engine)
	if err != nil {
		t.Fatal(err)
	}
	defer trace.Close()
	conn, err := net.Dial("unix", trace.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /v1.41/containers/abc/attach?stream=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "tcp" {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if _, err := io.WriteString(conn, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "HELLObye" {
		t.Fatalf("stream %q, %v", got, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var calls []EngineCall
	for len(calls) == 0 && time.Now().Before(deadline) {
		calls = trace.Calls()
		time.Sleep(time.Millisecond)
	}
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != "/containers/abc/attach" || c.Query.Get("stream") != "1" || c.Status != http.StatusSwitchingProtocols {
		t.Fatalf("call %+v", c)
	}
	if c.FirstByte.Sub(start) < 20*time.Millisecond || c.End.Before(c.FirstByte) {
		t.Fatalf("first byte %v after the request, end %v", c.FirstByte.Sub(start), c.End.Sub(start))
	}
}

func fakeAttach(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
			in, _ := io.ReadAll(br) // until the client's half-close
			time.Sleep(20 * time.Millisecond)
			_, _ = c.Write(append(bytes.ToUpper(in), "bye"...))
		}()
	}
}
