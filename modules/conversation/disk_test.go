package conversation

import (
	"encoding/json"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/sandbox"
)

// A turn the runner stopped on its disk limit fails with -32003 and the
// reason in words, not as a cancel.
func TestOutcomeDiskLimit(t *testing.T) {
	st := sandbox.Status{Kind: sandbox.Cancelled, ExitCode: 143, Reason: "stopped: cancelled", CancelReason: "killed: disk limit 10 GiB"}
	resp := outcome{tracker: &streamTracker{}, status: st, cause: causeDiskLimit}.response(json.RawMessage(`"r-1"`))
	if resp.Error == nil || resp.Error.Code != rpc.CodeAgentFailed || resp.Error.Message != "turn stopped: killed: disk limit 10 GiB" {
		t.Fatalf("response %+v", resp.Error)
	}
	if res, ok := resp.Error.Data.(Result); !ok || res.Status != rpc.StatusFailed {
		t.Fatalf("data %+v", resp.Error.Data)
	}
}
