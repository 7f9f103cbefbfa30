package sync

import (
	"context"
	"encoding/json"
	"fmt"
	stdsync "sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/retry"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testRunner = "runner-1"
	testToken  = "s3cret-token"
)

// recorder is a Handler and a Responder that remembers every call.
type recorder struct {
	mu        stdsync.Mutex
	messages  []Message
	withdrawn []string
	answers   []rpc.Response
}

func (r *recorder) Dispatch(_ context.Context, m Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, m)
	m.Settled()
}

func (r *recorder) Withdraw(_ context.Context, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.withdrawn = append(r.withdrawn, id)
}

func (r *recorder) Respond(_ context.Context, resp rpc.Response) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, resp)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.messages))
	for i, m := range r.messages {
		out[i] = m.ID
	}
	return out
}

func (r *recorder) withdrawals() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.withdrawn...)
}

func (r *recorder) responses() []rpc.Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rpc.Response(nil), r.answers...)
}

// harness is one intake against one fake server, with everything it touches.
type harness struct {
	t       *testing.T
	srv     *electrictest.Server
	cfg     *config.Config
	rec     *recorder
	health  *health.Registry
	metrics *prometheus.Registry
	logs    *observer.ObservedLogs
	intake  *Intake
	params  Params
}

// benchHarness is a started-later intake for benchmarks.
type benchHarness struct {
	intake *Intake
	rec    *recorder
	health *health.Registry
}

func newBenchHarness(b *testing.B, srv *electrictest.Server) *benchHarness {
	b.Helper()
	cfg := config.Defaults()
	cfg.DataDir, cfg.RunnerID, cfg.RunnerToken, cfg.ElectricURL = b.TempDir(), testRunner, testToken, srv.URL()
	h := &benchHarness{rec: &recorder{}, health: health.NewRegistry()}
	in, err := New(Params{Config: cfg, Health: h.health, Handler: h.rec, Responder: h.rec, MinLivePoll: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	h.intake = in
	return h
}

// newHarness builds an intake with test pacing against srv; it is not started.
func newHarness(t *testing.T, srv *electrictest.Server, dataDir string, tweak ...func(*Params)) *harness {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = dataDir
	cfg.RunnerID = testRunner
	cfg.RunnerToken = testToken
	cfg.ElectricURL = srv.URL()
	core, logs := observer.New(zapcore.DebugLevel)
	h := &harness{t: t, srv: srv, cfg: cfg, rec: &recorder{}, health: health.NewRegistry(),
		metrics: prometheus.NewRegistry(), logs: logs}
	h.params = Params{
		Config: cfg, Logger: zap.New(core), Metrics: h.metrics, Health: h.health,
		Handler: h.rec, Responder: h.rec,
		Backoff:        retry.Backoff{Base: 10 * time.Millisecond, Cap: 80 * time.Millisecond},
		SlowRetry:      150 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		MinLivePoll:    time.Millisecond,
	}
	for _, f := range tweak {
		f(&h.params)
	}
	return h
}

func (h *harness) start() *harness {
	h.t.Helper()
	in, err := New(h.params)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	if err := in.Start(context.Background()); err != nil {
		h.t.Fatalf("Start: %v", err)
	}
	h.intake = in
	h.t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) stop() {
	h.t.Helper()
	if h.intake == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.intake.Stop(ctx); err != nil {
		h.t.Errorf("Stop: %v", err)
	}
	h.intake = nil
}

func (h *harness) ready() (bool, string) {
	return h.health.Component(ReadinessComponent).IsReady()
}

func (h *harness) waitReady() {
	h.t.Helper()
	eventually(h.t, "intake ready", func() bool { ok, _ := h.ready(); return ok })
}

// waitIDs waits until exactly these ids were dispatched, in this order.
func (h *harness) waitIDs(want ...string) {
	h.t.Helper()
	eventually(h.t, fmt.Sprintf("dispatched %v", want), func() bool { return equal(h.rec.ids(), want) })
}

// counter reads a counter (with labels name=value pairs) from the registry.
func (h *harness) counter(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.metrics.Gather()
	if err != nil {
		h.t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		return sum
	}
	return 0
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// insert adds a valid conversation.send row for the test runner.
func insert(srv *electrictest.Server, id string) {
	srv.InsertMessage(id, testRunner, "ws-1", request("req-"+id))
}

func request(reqID string) []byte {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": reqID, "method": rpc.MethodRunnerPing, "params": map[string]any{}})
	return b
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// shapeRequests are the recorded GET /v1/shape requests.
func shapeRequests(srv *electrictest.Server) []electrictest.Request {
	var out []electrictest.Request
	for _, r := range srv.Requests() {
		if r.Method == "GET" {
			out = append(out, r)
		}
	}
	return out
}

func zapInt(key string, v int) zap.Field { return zap.Int(key, v) }
