package conversation

import (
	"encoding/json"
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/sandbox"
)

// Result is the result of a conversation.send (CONTRACT section 2).
type Result struct {
	ConversationID string          `json:"conversationId"`
	SessionID      string          `json:"sessionId"`
	Status         string          `json:"status"`
	Result         *string         `json:"result"`
	NumTurns       int             `json:"numTurns"`
	DurationMs     int64           `json:"durationMs"`
	TotalCostUSD   float64         `json:"totalCostUsd"`
	Usage          json.RawMessage `json:"usage"`
	ExitCode       int             `json:"exitCode"`
	// Git is the checkout after the turn, computed by the runner; null when
	// there is no checkout.
	Git *workspace.GitReport `json:"git"`
	// Relay is the model use the relay counted; absent only when the turn
	// never opened its relay.
	Relay *relay.Usage `json:"relay,omitempty"`
}

// stopCause says why the runner ended a turn itself, when it did.
type stopCause int

const (
	causeNone stopCause = iota
	causeCancelled
	causeShutdown
	causeDiskLimit // the runner-enforced disk limit (disk.go)
	causeBudget    // the relay refused a model request over budget (meter.go)
)

// outcome is how a turn ended, before it becomes a response.
type outcome struct {
	conversationID string
	tracker        *streamTracker
	status         sandbox.Status
	cause          stopCause
	durationMs     int64
	err            *rpc.Error // set when the turn failed before or outside the agent
	git            *workspace.GitReport
	usage          *relay.Usage
}

// response maps the outcome to the conversation.send response. A result line
// decides success (is_error), never the exit code alone. A turn that the runner
// stopped is an error (-32004 timeout, -32005 cancelled, -32006 shutting down)
// whose data is the result so far; a turn without a result line is -32003 with
// the sandbox's reason in words.
func (o outcome) response(id json.RawMessage) rpc.Response {
	if o.err != nil {
		return rpc.Failure(id, o.err)
	}
	res := Result{ConversationID: o.conversationID, SessionID: o.tracker.sessionID,
		ExitCode: o.status.ExitCode, DurationMs: o.durationMs, Usage: json.RawMessage("null"), Git: o.git, Relay: o.usage}
	if r := o.tracker.result; r != nil {
		res.Result, res.NumTurns, res.TotalCostUSD = r.Result, r.NumTurns, r.TotalCostUSD
		if r.DurationMs > 0 {
			res.DurationMs = r.DurationMs
		}
		if len(r.Usage) > 0 {
			res.Usage = r.Usage
		}
	}
	fail := func(code int, status, msg string) rpc.Response {
		res.Status = status
		return rpc.Failure(id, &rpc.Error{Code: code, Message: msg, Data: res})
	}
	// The runner's own cause comes first: a shutdown stops the sandbox the
	// same way a cancel does.
	stopped := o.status.Reason
	if o.status.CancelReason != "" {
		stopped = o.status.CancelReason
	}
	switch {
	case o.cause == causeShutdown:
		return fail(rpc.CodeShuttingDown, rpc.StatusFailed, "runner shutting down: "+stopped)
	case o.cause == causeBudget:
		return fail(rpc.CodeAgentFailed, rpc.StatusFailed, budgetReason(o.status.CancelReason))
	case o.cause == causeDiskLimit:
		return fail(rpc.CodeAgentFailed, rpc.StatusFailed, "turn stopped: "+stopped)
	case o.cause == causeCancelled || o.status.Kind == sandbox.Cancelled:
		return fail(rpc.CodeCancelled, rpc.StatusCancelled, "turn cancelled: "+stopped)
	case o.status.Kind == sandbox.TimedOut:
		return fail(rpc.CodeTimeout, rpc.StatusTimeout, "turn timed out: "+o.status.Reason)
	case o.tracker.result == nil:
		return fail(rpc.CodeAgentFailed, rpc.StatusFailed, fmt.Sprintf("agent ended without a result line: %s", o.status.Reason))
	case o.tracker.result.IsError:
		res.Status = rpc.StatusFailed
	default:
		res.Status = rpc.StatusCompleted
	}
	return rpc.Result(id, res)
}
