package main

import (
	"testing"

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
