package main

import (
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// When the sandbox's shim cannot start the agent (here the process limit is
// too small for it to fork), the answer and the log carry the shim's own
// words, not only "exited with code N".
func TestE2EShimFailureReachesTheAnswer(t *testing.T) {
	e := newE2E(t, "shimfail", "--sandbox-pids", "8")
	e.send("msg-1", "ws-1", "conv", "hello", nil)
	rerr := wantError(t, e.response("msg-1"), rpc.CodeAgentFailed)
	// The shim's words, or the Go runtime's of the shim or of the sandbox's
	// keeper (whichever could not get a thread first).
	said := "sandbox-shim"
	if !strings.Contains(rerr.Message, said) {
		said = "runtime: "
	}
	if !strings.Contains(rerr.Message, said) {
		t.Errorf("answer %q lacks the shim's error", rerr.Message)
	}
	if !strings.Contains(e.d.stderr.String(), said) {
		t.Errorf("the log lacks the shim's error")
	}
	t.Logf("answer: %s", rerr.Message)
	e.checkDelivery("msg-1")
}
