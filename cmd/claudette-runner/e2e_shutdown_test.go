package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// SIGTERM stops gracefully: a turn still running when the shutdown timeout
// nears is stopped with -32006, its answer is delivered before the process
// exits 0, no container is left, and a queued turn waits in the data dir and
// runs after the next start.
func TestE2EGracefulShutdownStopsTurnsAndKeepsTheQueue(t *testing.T) {
	e := newE2E(t, "shutdown", "--max-concurrent", "1", "--shutdown-timeout", "8s")
	e.send("msg-long", "ws-s", "conv-s", "PROBE sleep 120s", nil)
	e.waitEvent("msg-long", `"command":"PROBE sleep 120s"`)
	e.send("msg-next", "ws-n", "conv-n", "after the restart", nil)
	e.waitState("msg-next", rpc.StateQueued)

	if code := e.d.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, e.d.stderrText())
	}
	// Delivered before the exit: the orchestrator has it now.
	if it, ok := e.orch.Response("msg-long"); !ok {
		t.Fatal("the stopped turn was not answered before the runner exited")
	} else {
		wantError(t, it, rpc.CodeShuttingDown)
	}
	e.checkDelivery("msg-long")
	if left := e.containers(); len(left) != 0 {
		t.Errorf("containers after a graceful stop: %v", left)
	}
	if _, ok := e.orch.Response("msg-next"); ok {
		t.Fatal("the queued turn was answered although it never ran")
	}

	e.start()
	if res := result(t, e.response("msg-next")); res.Status != rpc.StatusCompleted {
		t.Errorf("queued turn after restart: status %s", res.Status)
	}
	e.checkDelivery("msg-next")
	e.waitNoContainers()
}

// A second signal stops at once: the graceful wait for a running turn (here up
// to a 5-minute shutdown timeout) is cut short, the process exits 1, the turn's
// sandbox outlives it, and the next start takes the turn up and completes it.
func TestE2ESecondSignalStopsAtOnce(t *testing.T) {
	e := newE2E(t, "second-signal", "--shutdown-timeout", "5m")
	e.send("msg-sleep", "ws-2s", "conv-2s", "PROBE sleep 6s", nil)
	e.waitEvent("msg-sleep", `"command":"PROBE sleep 6s"`)

	if err := e.d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e.d.waitLog(t, "waiting for running turns")
	if err := e.d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.d.done:
	case <-time.After(2 * time.Minute): // far below the 5-minute graceful bound
		t.Fatalf("no exit after the second signal\n%s", e.d.stderrText())
	}
	if code := e.d.cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Fatalf("exit code %d after a second signal, want %d\n%s", code, exitFailed, e.d.stderrText())
	}
	if !strings.Contains(e.d.stderrText(), "second signal, stopping now") {
		t.Errorf("the forced stop is not logged:\n%s", e.d.stderrText())
	}

	e.start()
	if res := result(t, e.response("msg-sleep")); res.Status != rpc.StatusCompleted {
		t.Errorf("turn after the forced stop: status %s", res.Status)
	}
	e.checkDelivery("msg-sleep")
	e.waitNoContainers()
}
