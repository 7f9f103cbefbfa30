package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// realKey is the runner's model credential in every test: it must reach the
// upstream and nothing else.
const realKey = "sk-ant-REAL-KEY-must-never-enter-a-sandbox"

// shimBinary is the runner built static, once per test binary: the shim.
var shimBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "claudette-relay-test-")
	if err != nil {
		panic(err)
	}
	shimBinary = filepath.Join(dir, "claudette-runner")
	build := exec.Command("go", "build", "-o", shimBinary, "github.com/claudette-dev/claudette-runner/cmd/claudette-runner")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic(fmt.Sprintf("build the runner: %v", err))
	}
	defer os.RemoveAll(dir)
	demotest.Main(m)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testConfig is the defaults with the real key, an upstream and a data dir
// of the test's own.
func testConfig(t testing.TB, upstream string) *config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.RunnerID = "t-relay-" + randHex(4)
	cfg.DataDir = t.TempDir()
	cfg.Model.APIKey = realKey
	cfg.Model.BaseURL = upstream
	return cfg
}

type fixture struct {
	r      *Relay
	reg    *prometheus.Registry
	health *health.Registry
	logs   *logBuffer
}

// startRelay builds and starts a relay for cfg (the shim is the static
// runner); it is stopped when the test ends.
func startRelay(t *testing.T, cfg *config.Config, hooks ...func(*Relay)) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewRegistry(), health: health.NewRegistry(), logs: &logBuffer{}}
	log := zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel), zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(f.logs), zap.DebugLevel))
	})))
	r, err := New(Params{Config: cfg, Logger: log, Registerer: f.reg, Health: f.health, Binary: shimBinary})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		h(r)
	}
	f.r = r
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return f
}

// open opens a turn of conversation c-1 in ws-1, closed when the test ends.
func (f *fixture) open(t *testing.T, token string) *Access {
	t.Helper()
	a, err := f.r.Open(context.Background(), Turn{MessageID: "msg-" + randHex(4), WorkspaceID: "ws-1", ConversationID: "c-1", Token: token})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// socketClient is an HTTP client whose every connection goes to a Unix socket.
func socketClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}}
}

func socketOf(a *Access, name string) string {
	for _, m := range a.Mounts {
		if m.Target == SocketDir {
			return filepath.Join(m.Source, name)
		}
	}
	return ""
}

// recorded is one request the upstream received.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// upstream is a recording model API: it answers POST /v1/messages with an SSE
// stream. When release is set, it sends the first event, then waits for it.
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	got     []recorded
	release chan struct{}
}

// sseBody is a streamed Messages response: 25 input and 17 output tokens.
var sseEvents = []string{
	`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","usage":{"input_tokens":25,"output_tokens":1}}}` + "\n\n",
	`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n",
	`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}` + "\n\n",
	`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}` + "\n\n",
	`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":17}}` + "\n\n",
	`event: message_stop` + "\n" + `data: {"type":"message_stop"}` + "\n\n",
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
		release := u.release
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		for i, ev := range sseEvents {
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
			if i == 0 && release != nil {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.got...)
}

// postMessages makes a streaming Messages call the way the CLI does.
func postMessages(t *testing.T, c *http.Client, header, value string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4141/v1/messages?beta=true",
		strings.NewReader(`{"model":"claude-test","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST through the relay: %v", err)
	}
	return resp
}

// sseEventsOf reads a whole SSE body and returns its event names.
func sseEventsOf(t *testing.T, body io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			out = append(out, name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read the stream: %v", err)
	}
	return out
}

// logBuffer keeps every log line, JSON with its fields, for "never in a log".
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// findingsOf decodes the probe results (tool_result contents) of stream-json lines.
func findingsOf(lines [][]byte) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		var v struct {
			Type    string `json:"type"`
			Message struct {
				Content []struct {
					Type    string `json:"type"`
					Content string `json:"content"`
				} `json:"content"`
			} `json:"message"`
		}
		if json.Unmarshal(l, &v) != nil || v.Type != "user" || len(v.Message.Content) == 0 || v.Message.Content[0].Type != "tool_result" {
			continue
		}
		var f map[string]any
		if json.Unmarshal([]byte(v.Message.Content[0].Content), &f) == nil {
			out = append(out, f)
		}
	}
	return out
}
