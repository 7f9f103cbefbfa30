package reporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/retry"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testToken    = "tok-SECRET-4f1c9a"
	testRunnerID = "runner-1"
	waitLong     = 20 * time.Second
)

// harness is one reporter against one recording orchestrator.
type harness struct {
	t       *testing.T
	cfg     *config.Config
	orch    *orchestratortest.Orchestrator
	rep     *reporter.Reporter
	health  *health.Registry
	metrics *prometheus.Registry
	logs    *observer.ObservedLogs
}

type option func(*config.Config, *reporter.Params)

func withTuning(tn reporter.Tuning) option {
	return func(_ *config.Config, p *reporter.Params) { p.Tuning = tn }
}

func withConfig(fn func(*config.Config)) option {
	return func(c *config.Config, _ *reporter.Params) { fn(c) }
}

// fastTuning keeps the test's waits short.
var fastTuning = reporter.Tuning{
	Linger:    2 * time.Millisecond,
	Backoff:   retry.Backoff{Base: 5 * time.Millisecond, Cap: 40 * time.Millisecond},
	AuthRetry: 30 * time.Millisecond,
}

func newOrchestrator(t *testing.T) *orchestratortest.Orchestrator {
	return orchestratortest.New(t, orchestratortest.Options{Token: testToken, RunnerID: testRunnerID})
}

// start builds and starts a reporter on dir (a new temp dir when empty) and
// stops it at cleanup.
func start(t *testing.T, orch *orchestratortest.Orchestrator, dir string, opts ...option) *harness {
	t.Helper()
	h := build(t, orch, dir, opts...)
	h.startNow()
	return h
}

func build(t *testing.T, orch *orchestratortest.Orchestrator, dir string, opts ...option) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.RunnerID = testRunnerID
	cfg.RunnerToken = testToken
	cfg.OrchestratorURL = orch.URL
	cfg.Outbox.HeartbeatInterval = time.Hour
	core, logs := observer.New(zap.DebugLevel)
	h := &harness{t: t, cfg: cfg, orch: orch, health: health.NewRegistry(), metrics: prometheus.NewRegistry(), logs: logs}
	p := reporter.Params{
		Config:     cfg,
		Logger:     zap.New(core),
		Registerer: h.metrics,
		Health:     h.health,
		Version:    "v-test",
		Tuning:     fastTuning,
	}
	for _, o := range opts {
		o(cfg, &p)
	}
	rep, err := reporter.New(p)
	if err != nil {
		t.Fatalf("new reporter: %v", err)
	}
	h.rep = rep
	t.Cleanup(func() { h.checkNoSecrets() })
	return h
}

func (h *harness) startNow() {
	h.t.Helper()
	if err := h.rep.Start(context.Background()); err != nil {
		h.t.Fatalf("start reporter: %v", err)
	}
	h.t.Cleanup(func() { h.stop(5 * time.Second) })
}

func (h *harness) stop(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := h.rep.Stop(ctx); err != nil {
		h.t.Errorf("stop reporter: %v", err)
	}
}

func (h *harness) send(items ...reporter.Item) {
	h.t.Helper()
	if err := h.rep.Send(context.Background(), items...); err != nil {
		h.t.Fatalf("send: %v", err)
	}
}

func (h *harness) flush() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := h.rep.Flush(ctx); err != nil {
		h.t.Fatalf("flush: %v; orchestrator: %s", err, h.orch.Summary())
	}
}

// waitHeartbeat waits for the heartbeat sent at start, so that scripted
// replies apply to the items the test sends next.
func (h *harness) waitHeartbeat() {
	h.t.Helper()
	h.orch.WaitFor(h.t, waitLong, func(items []orchestratortest.Item) bool {
		for _, it := range items {
			if it.Heartbeat != nil {
				return true
			}
		}
		return false
	})
}

func (h *harness) counter(name string) float64 {
	h.t.Helper()
	mfs, err := h.metrics.Gather()
	if err != nil {
		h.t.Fatalf("gather metrics: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func (h *harness) requestsWith(outcome string) float64 {
	h.t.Helper()
	mfs, err := h.metrics.Gather()
	if err != nil {
		h.t.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "claudette_reporter_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// waitUntil polls cond (for state the orchestrator cannot see, such as metrics).
func (h *harness) waitUntil(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; orchestrator: %s", what, h.orch.Summary())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkNoSecrets fails the test when a log entry carries the runner token.
func (h *harness) checkNoSecrets() {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range h.logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			h.t.Errorf("encode log entry: %v", err)
			continue
		}
		if line := buf.String(); strings.Contains(line, testToken) {
			h.t.Errorf("a log entry contains the runner token: %s", line)
		}
		buf.Free()
	}
}

func (h *harness) logged(msg string) []observer.LoggedEntry {
	return h.logs.FilterMessage(msg).All()
}

func event(msg string, seq int64, text string) reporter.Item {
	ev, _ := json.Marshal(map[string]any{"type": "assistant", "text": text, "seq": seq})
	return reporter.Event(rpc.EventParams{MessageID: msg, WorkspaceID: "ws-1", ConversationID: "c-" + msg, Seq: seq, Event: ev})
}

func state(msg string, seq int64, st string) reporter.Item {
	return reporter.State(rpc.StateParams{MessageID: msg, WorkspaceID: "ws-1", ConversationID: "c-" + msg, Seq: seq, State: st})
}

func response(id string) reporter.Item {
	return reporter.Response(rpc.Result(json.RawMessage(fmt.Sprintf("%q", id)), map[string]any{"status": rpc.StatusCompleted}))
}

// events builds seq from..to of a message.
func events(msg string, from, to int64) []reporter.Item {
	var out []reporter.Item
	for s := from; s <= to; s++ {
		out = append(out, event(msg, s, fmt.Sprintf("line %d of %s", s, msg)))
	}
	return out
}

// keys are the unique keys of the accepted items, heartbeats left out.
func keys(items []orchestratortest.Item) []string {
	var out []string
	for _, it := range items {
		if k := it.Key(); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func expectKeys(t *testing.T, got []string, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("delivered items:\n got %d: %v\nwant %d: %v", len(got), clip(got), len(want), clip(want))
	}
}

func clip(s []string) []string {
	if len(s) > 40 {
		return append(append([]string{}, s[:40]...), "...")
	}
	return s
}

func eventKeys(msg string, from, to int64) []string {
	var out []string
	for s := from; s <= to; s++ {
		out = append(out, fmt.Sprintf("%s#%d", msg, s))
	}
	return out
}
