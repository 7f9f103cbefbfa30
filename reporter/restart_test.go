package reporter_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
	"go.uber.org/zap"
)

// A runner stopped with a pending outbox delivers the rest after it starts
// again, in order, and what was delivered before is not sent again.
func TestRestartDeliversPendingOutbox(t *testing.T) {
	orch := newOrchestrator(t)
	dir := t.TempDir()
	first := start(t, orch, dir)
	first.send(events("m", 1, 30)...)
	first.flush()

	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})
	first.send(events("m", 31, 80)...)
	first.send(response("req-m"))
	orch.WaitRequests(t, waitLong, func(reqs []orchestratortest.Request) bool {
		return len(reqs) > 0 && reqs[len(reqs)-1].Reply.Status == http.StatusServiceUnavailable
	})
	first.stop(200 * time.Millisecond) // cannot drain: the orchestrator is failing
	if n := len(first.logged("outbox not drained before stop; the rest is delivered after the next start")); n != 1 {
		t.Fatalf("stop with a pending outbox logged %d warnings", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "outbox")); err != nil {
		t.Fatalf("outbox dir: %v", err)
	}

	orch.SetDefault(orchestratortest.Reply{})
	second := start(t, orch, dir)
	if got := second.counter("claudette_reporter_outbox_items"); got != 51 {
		t.Fatalf("restarted outbox holds %v items, want 51", got)
	}
	second.flush()
	expectKeys(t, keys(orch.Items()), append(eventKeys("m", 1, 80), `response "req-m"`))
}

// Items are durable when Send returns: a producer process killed right after
// its sends loses nothing, and the next start delivers them.
func TestKilledProcessLosesNothing(t *testing.T) {
	dir := t.TempDir()
	// The helper process sends to a port where nothing listens.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProducer$", "-test.v")
	cmd.Env = append(os.Environ(), "REPORTER_HELPER_DIR="+dir, "REPORTER_HELPER_URL=http://127.0.0.1:1/rpc")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sent := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "SENT "); ok {
			sent, _ = strconv.Atoi(n)
			break
		}
	}
	if sent <= 0 {
		t.Fatalf("helper did not report its sends (%d)", sent)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	orch := newOrchestrator(t)
	h := start(t, orch, dir)
	h.flush()
	expectKeys(t, keys(orch.Items()), eventKeys("k", 1, int64(sent)))
}

// TestHelperProducer is the producer process of TestKilledProcessLosesNothing.
func TestHelperProducer(t *testing.T) {
	dir := os.Getenv("REPORTER_HELPER_DIR")
	if dir == "" {
		return // only meaningful as the helper of TestKilledProcessLosesNothing
	}
	cfg := config.Defaults()
	cfg.DataDir, cfg.RunnerID, cfg.RunnerToken = dir, testRunnerID, testToken
	cfg.OrchestratorURL = os.Getenv("REPORTER_HELPER_URL")
	rep, err := reporter.New(reporter.Params{Config: cfg, Logger: zap.NewNop(), Health: health.NewRegistry(), Tuning: fastTuning})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 500
	for c := int64(0); c < n/10; c++ {
		if err := rep.Send(context.Background(), events("k", c*10+1, c*10+10)...); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("SENT %d\n", n)
	select {} // wait to be killed
}
