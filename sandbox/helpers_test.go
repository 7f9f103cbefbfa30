package sandbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { demotest.Main(m) }

// agentCmd is how the conversation layer runs the CLI: prompt on stdin.
var agentCmd = []string{"claude", "-p", "--output-format", "stream-json", "--verbose"}

// testConfig is the defaults with small limits, a runner id unique to the
// test and the demo image.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.RunnerID = "t-" + randHex(6)
	cfg.DataDir = t.TempDir()
	cfg.TurnTimeout = 2 * time.Minute
	cfg.Sandbox.Image = demotest.Image(t)
	cfg.Sandbox.Pull = config.PullNever
	cfg.Sandbox.Memory = 256 << 20
	cfg.Sandbox.CPUs = 1.5
	cfg.Sandbox.Pids = 64
	cfg.Sandbox.NoFile = 1024
	cfg.Sandbox.TmpSize = 16 << 20
	cfg.Sandbox.OutputLimit = 8 << 20
	cfg.Sandbox.LineLimit = 64 << 10
	cfg.Sandbox.StopGrace = 3 * time.Second
	return cfg
}

type env struct {
	t      *testing.T
	cfg    *config.Config
	m      *sandbox.Manager
	docker *client.Client
	health *health.Registry
	log    *zap.Logger
}

// newManager builds a manager for cfg without starting it; every container
// of the runner id is removed when the test ends.
func newManager(t *testing.T, cfg *config.Config) *env {
	t.Helper()
	cli, err := sandbox.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, docker: cli, health: health.NewRegistry(), log: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))}
	e.m, err = sandbox.New(sandbox.Params{Config: cfg, Logger: e.log, Metrics: prometheus.NewRegistry(), Health: e.health, Docker: cli})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeRunnerContainers(t, cli, cfg.RunnerID)
		cli.Close()
	})
	return e
}

// startManager is newManager and Start, stopped at the end of the test.
func startManager(t *testing.T, cfg *config.Config) *env {
	t.Helper()
	e := newManager(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.m.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.m.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e
}

func removeRunnerContainers(t *testing.T, cli *client.Client, runnerID string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", sandbox.LabelRunnerID+"="+runnerID)})
	if err != nil {
		t.Errorf("cleanup: list containers: %v", err)
		return
	}
	for _, c := range res.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("cleanup: remove %s: %v", c.ID, err)
		}
	}
}

// hostDir makes a directory owned by the sandbox user, removed at the end.
func (e *env) hostDir(name string) string {
	e.t.Helper()
	dir := filepath.Join(e.t.TempDir(), name)
	if err := e.m.PrepareDir(dir); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.m.RemoveTree(ctx, dir); err != nil {
			e.t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// spec is an agent run in a fresh checkout with the prompt on stdin.
func (e *env) spec(workspace, prompt string) sandbox.Spec {
	return sandbox.Spec{
		WorkspaceID: workspace, MessageID: "msg-" + randHex(4), Cmd: agentCmd,
		Env:      []string{"CLAUDE_CONFIG_DIR=/state", "ANTHROPIC_API_KEY=dummy"},
		Checkout: e.hostDir(workspace + "-checkout"),
		Mounts:   []sandbox.Mount{{Source: e.hostDir(workspace + "-state"), Target: "/state"}},
		Stdin:    []byte(prompt),
		Labels:   map[string]string{demotest.TestLabel: "true"},
	}
}

func (e *env) run(s sandbox.Spec) *sandbox.Run {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := e.m.Run(ctx, s)
	if err != nil {
		e.t.Fatalf("run: %v", err)
	}
	return r
}

// collect reads every line, then the status.
func collect(t *testing.T, r *sandbox.Run) ([]sandbox.Line, sandbox.Status) {
	t.Helper()
	var lines []sandbox.Line
	for l := range r.Lines() {
		lines = append(lines, l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return lines, r.Wait(ctx)
}

// findings returns the probe results (tool_result contents) in order.
func findings(t *testing.T, lines []sandbox.Line) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines {
		if f := finding(l); f != nil {
			out = append(out, f)
		}
	}
	return out
}

func finding(l sandbox.Line) map[string]any {
	var v struct {
		Type    string `json:"type"`
		Message struct {
			Content []struct {
				Type    string `json:"type"`
				Content string `json:"content"`
			} `json:"content"`
		} `json:"message"`
	}
	if l.Truncated || json.Unmarshal(l.Data, &v) != nil || v.Type != "user" || len(v.Message.Content) == 0 ||
		v.Message.Content[0].Type != "tool_result" {
		return nil
	}
	var f map[string]any
	if json.Unmarshal([]byte(v.Message.Content[0].Content), &f) != nil {
		return nil
	}
	return f
}

// lineType returns the "type" of a stream-json line, "" when not JSON.
func lineType(l sandbox.Line) string {
	var v struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(l.Data, &v) != nil {
		return ""
	}
	return v.Type
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func num(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	return -999
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// memPeak samples the heap of this process until stop is called and
// returns the largest HeapInuse seen.
func memPeak() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// firstLines reads a run's first n lines (fewer when it ends first) and
// stops reading, as a runner that dies there would.
func firstLines(r *sandbox.Run, n int) []sandbox.Line {
	var out []sandbox.Line
	for l := range r.Lines() {
		out = append(out, l)
		if len(out) == n {
			break
		}
	}
	return out
}
