package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// EngineTrace is a proxy in front of the Docker engine's unix socket that
// records every API call passing through it, with the time the request
// arrived, its response headers, the end of the response and, for an
// upgraded stream (attach), the first byte the engine sent on it. A runner
// pointed at it (DOCKER_HOST=unix://<Socket>) shows how many engine calls a
// turn costs and how long each takes. It adds a hop to every call: use it to
// see where the time goes, not to measure the total.
type EngineTrace struct {
	Socket string // where the proxy listens

	upstream string
	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	calls    []EngineCall
	conns    map[net.Conn]bool
	closed   bool
}

// EngineCall is one API call.
type EngineCall struct {
	Method string
	Path   string // without the /v1.xx prefix
	Query  url.Values
	Status int
	// Start: the request was read; Header: the response headers arrived;
	// End: the response body ended (an upgraded stream: both directions closed).
	Start, Header, End time.Time
	// FirstByte: an upgraded stream's first byte from the engine (zero if none).
	FirstByte time.Time
}

// Duration is the call's time from request to end of response.
func (c EngineCall) Duration() time.Duration { return c.End.Sub(c.Start) }

// NewEngineTrace listens on a socket in dir and forwards to upstream, the
// engine's socket path ("" = from DOCKER_HOST, else /var/run/docker.sock).
func NewEngineTrace(dir, upstream string) (*EngineTrace, error) {
	if upstream == "" {
		var err error
		if upstream, err = engineSocket(os.Getenv("DOCKER_HOST")); err != nil {
			return nil, err
		}
	}
	sock := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("engine trace: %w", err)
	}
	t := &EngineTrace{Socket: sock, upstream: upstream, ln: ln, conns: map[net.Conn]bool{}}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// engineSocket is the unix socket path of a DOCKER_HOST value.
func engineSocket(host string) (string, error) {
	switch {
	case host == "":
		return "/var/run/docker.sock", nil
	case strings.HasPrefix(host, "unix://"):
		return strings.TrimPrefix(host, "unix://"), nil
	}
	return "", fmt.Errorf("engine trace: DOCKER_HOST=%s is not a unix socket", host)
}

// DockerHost is the DOCKER_HOST value that points at the proxy.
func (t *EngineTrace) DockerHost() string { return "unix://" + t.Socket }

// Calls returns every call recorded so far, in the order their requests arrived.
func (t *EngineTrace) Calls() []EngineCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]EngineCall(nil), t.calls...)
	sortCalls(out)
	return out
}

// Reset forgets the calls recorded so far.
func (t *EngineTrace) Reset() {
	t.mu.Lock()
	t.calls = nil
	t.mu.Unlock()
}

// Close stops listening, closes every connection and waits for the proxy's goroutines.
func (t *EngineTrace) Close() error {
	err := t.ln.Close()
	t.mu.Lock()
	t.closed = true
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}

func (t *EngineTrace) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.serve(c)
		}()
	}
}

func (t *EngineTrace) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = true
	return true
}

func (t *EngineTrace) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	_ = c.Close()
}

func (t *EngineTrace) record(c EngineCall) {
	t.mu.Lock()
	t.calls = append(t.calls, c)
	t.mu.Unlock()
}

var apiVersion = regexp.MustCompile(`^/v[0-9.]+/`)

// serve relays one client connection's requests, one at a time (HTTP/1.1
// without pipelining, as the Go client does), to a connection of its own to
// the engine.
func (t *EngineTrace) serve(client net.Conn) {
	engine, err := net.Dial("unix", t.upstream)
	if err != nil {
		_ = client.Close()
		return
	}
	if !t.track(client) || !t.track(engine) {
		_ = client.Close()
		_ = engine.Close()
		return
	}
	defer t.untrack(client)
	defer t.untrack(engine)
	cr, er := bufio.NewReader(client), bufio.NewReader(engine)
	for {
		req, err := http.ReadRequest(cr)
		if err != nil {
			return
		}
		call := EngineCall{Method: req.Method, Path: apiVersion.ReplaceAllString(req.URL.Path, "/"), Query: req.URL.Query(), Start: time.Now()}
		if err := req.Write(engine); err != nil {
			return
		}
		resp, err := http.ReadResponse(er, req)
		if err != nil {
			return
		}
		call.Header, call.Status = time.Now(), resp.StatusCode
		if resp.StatusCode == http.StatusSwitchingProtocols {
			call.FirstByte = t.relayUpgraded(client, engine, cr, er, resp)
			call.End = time.Now()
			t.record(call)
			return
		}
		err = resp.Write(client)
		call.End = time.Now()
		t.record(call)
		if err != nil || resp.Close {
			return
		}
	}
}

// relayUpgraded answers the client's upgrade and copies the raw stream both
// ways, passing on half-closes (the attach client closes stdin with
// CloseWrite). It returns when both directions ended, with the time of the
// engine's first byte.
func (t *EngineTrace) relayUpgraded(client, engine net.Conn, cr, er *bufio.Reader, resp *http.Response) time.Time {
	head := fmt.Sprintf("HTTP/%d.%d %s\r\n", resp.ProtoMajor, resp.ProtoMinor, resp.Status)
	var b strings.Builder
	b.WriteString(head)
	_ = resp.Header.Write(&b)
	b.WriteString("\r\n")
	if _, err := io.WriteString(client, b.String()); err != nil {
		return time.Time{}
	}
	var first time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(engine, cr)
		closeWrite(engine)
	}()
	_, _ = io.Copy(client, &firstByteReader{r: er, at: &first})
	closeWrite(client)
	<-done
	return first
}

// firstByteReader notes when the first byte was read.
type firstByteReader struct {
	r  io.Reader
	at *time.Time
}

func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && f.at.IsZero() {
		*f.at = time.Now()
	}
	return n, err
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func sortCalls(calls []EngineCall) {
	slices.SortStableFunc(calls, func(a, b EngineCall) int { return a.Start.Compare(b.Start) })
}
