package relay

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// A sandbox whose runner stopped watching (it died) still ends at the turn's
// deadline: the shim stops the agent, exits 124 and says why on stderr, and
// ShimReport maps that to a timeout.
func TestShimEnforcesTheDeadlineWithoutARunner(t *testing.T) {
	up := newUpstream(t)
	cfg := sandboxConfig(t, up.URL)
	cfg.Sandbox.StopGrace = time.Second
	f := startRelay(t, cfg)
	e := startEngine(t, cfg)

	a, err := f.r.Open(context.Background(), Turn{MessageID: "m-deadline", WorkspaceID: "ws-1", ConversationID: "c-1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	r, _ := e.run(t, a, "PROBE sleep 120\n")
	id := r.ContainerID()
	r.Detach() // the runner is gone: nobody enforces its deadline (2 minutes) from outside

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wait := e.docker.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wait.Result:
		if res.StatusCode != ShimExitDeadline {
			t.Errorf("the sandbox exited %d, want %d", res.StatusCode, ShimExitDeadline)
		}
	case err := <-wait.Error:
		t.Fatalf("the sandbox still runs past its deadline: %v", err)
	}
	logs, err := e.docker.ContainerLogs(context.Background(), id, client.ContainerLogsOptions{ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&bytes.Buffer{}, &stderr, logs); err != nil {
		t.Fatal(err)
	}
	msg, deadline := ShimReport(stderr.Bytes(), ShimExitDeadline)
	if !deadline || !strings.Contains(msg, ShimDeadlineMessage) {
		t.Errorf("shim report %q (deadline %v) from stderr %q", msg, deadline, stderr.String())
	}
}
