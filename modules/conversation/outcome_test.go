package conversation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/sandbox"
)

func testConfig(turnTimeout time.Duration) *config.Config {
	cfg := config.Defaults()
	cfg.TurnTimeout = turnTimeout
	return cfg
}

// tracked feeds lines to a tracker as the relay does.
func tracked(lines ...string) *streamTracker {
	tr := &streamTracker{}
	for _, l := range lines {
		tr.observe([]byte(l), false)
	}
	return tr
}

const (
	initLine    = `{"type":"system","subtype":"init","session_id":"s-init","tools":[]}`
	successLine = `{"type":"result","subtype":"success","is_error":false,"result":"done","num_turns":3,"duration_ms":1234,"total_cost_usd":0.5,"usage":{"input_tokens":7},"session_id":"s-init"}`
	apiErrLine  = `{"type":"result","subtype":"success","is_error":true,"result":"API Error: overloaded","num_turns":1,"session_id":"s-init"}`
)

func TestOutcomeResponse(t *testing.T) {
	exited := func(code int) sandbox.Status {
		return sandbox.Status{Kind: sandbox.Exited, ExitCode: code, Reason: fmt.Sprintf("exited with code %d", code)}
	}
	cancelled := sandbox.Status{Kind: sandbox.Cancelled, ExitCode: 143, Reason: "stopped: cancelled", CancelReason: "stopped: workspace deleted"}
	tests := map[string]struct {
		out        outcome
		code       int    // 0: a result
		status     string // the result's (or the error data's) status
		msgHas     string
		exitCode   int
		resultText string
	}{
		"success": {out: outcome{tracker: tracked(initLine, successLine), status: exited(0)},
			status: rpc.StatusCompleted, exitCode: 0, resultText: "done"},
		"result decides, not the exit code": {out: outcome{tracker: tracked(initLine, successLine), status: exited(1)},
			status: rpc.StatusCompleted, exitCode: 1, resultText: "done"},
		"is_error is a failed result": {out: outcome{tracker: tracked(initLine, apiErrLine), status: exited(1)},
			status: rpc.StatusFailed, exitCode: 1, resultText: "API Error: overloaded"},
		"no result line (SIGINT exit 0)": {out: outcome{tracker: tracked(initLine), status: exited(0)},
			code: rpc.CodeAgentFailed, status: rpc.StatusFailed, msgHas: "without a result line: exited with code 0"},
		"timeout": {out: outcome{tracker: tracked(initLine), status: sandbox.Status{Kind: sandbox.TimedOut, ExitCode: 143, Reason: "stopped: turn timeout 2s"}},
			code: rpc.CodeTimeout, status: rpc.StatusTimeout, msgHas: "turn timeout 2s", exitCode: 143},
		"cancelled": {out: outcome{tracker: tracked(initLine), status: cancelled, cause: causeCancelled},
			code: rpc.CodeCancelled, status: rpc.StatusCancelled, msgHas: "workspace deleted", exitCode: 143},
		"shutdown wins over the cancel it causes": {out: outcome{tracker: tracked(initLine), status: cancelled, cause: causeShutdown},
			code: rpc.CodeShuttingDown, status: rpc.StatusFailed, msgHas: "shutting down", exitCode: 143},
		"cancel wins over a late timeout": {out: outcome{tracker: tracked(initLine), status: sandbox.Status{Kind: sandbox.TimedOut}, cause: causeCancelled},
			code: rpc.CodeCancelled, status: rpc.StatusCancelled},
		"failed before the agent": {out: outcome{tracker: &streamTracker{}, err: rpc.Errorf(rpc.CodeCheckoutFailed, "checkout failed: nope")},
			code: rpc.CodeCheckoutFailed, msgHas: "checkout failed"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.out.conversationID = "c-1"
			resp := tt.out.response(json.RawMessage(`"req-1"`))
			if string(resp.ID) != `"req-1"` || resp.JSONRPC != rpc.Version {
				t.Fatalf("envelope %+v", resp)
			}
			var res Result
			switch {
			case tt.code == 0:
				if resp.Error != nil {
					t.Fatalf("error %+v, want a result", resp.Error)
				}
				res = resp.Result.(Result)
			default:
				if resp.Error == nil || resp.Error.Code != tt.code || !strings.Contains(resp.Error.Message, tt.msgHas) {
					t.Fatalf("response %+v, want error %d with %q", resp.Error, tt.code, tt.msgHas)
				}
				if tt.status == "" {
					return
				}
				res = resp.Error.Data.(Result)
			}
			if res.Status != tt.status || res.ConversationID != "c-1" || res.SessionID != "s-init" || res.ExitCode != tt.exitCode {
				t.Errorf("result %+v, want status %s exit %d", res, tt.status, tt.exitCode)
			}
			if tt.resultText != "" && (res.Result == nil || *res.Result != tt.resultText) {
				t.Errorf("result text %v, want %q", res.Result, tt.resultText)
			}
		})
	}
	// The success maps every field of the result line.
	res := outcome{conversationID: "c", tracker: tracked(initLine, successLine)}.response(json.RawMessage(`1`)).Result.(Result)
	if res.NumTurns != 3 || res.DurationMs != 1234 || res.TotalCostUSD != 0.5 || string(res.Usage) != `{"input_tokens":7}` {
		t.Errorf("mapped result %+v", res)
	}
}

func TestStreamTracker(t *testing.T) {
	t.Run("session from init", func(t *testing.T) {
		tr := tracked(`{"type":"system","subtype":"init","session_id":"from-init"}`, `{"type":"result","session_id":"from-result"}`)
		if tr.sessionID != "from-init" || !tr.sawInit || tr.result == nil || tr.lines != 2 {
			t.Errorf("tracker %+v", tr)
		}
	})
	t.Run("session from the result without init", func(t *testing.T) {
		tr := tracked(`{"type":"assistant"}`, `{"type":"result","is_error":false,"session_id":"from-result"}`)
		if tr.sessionID != "from-result" || tr.sawInit {
			t.Errorf("tracker %+v", tr)
		}
	})
	t.Run("lines pass unchanged, unknown types and fields too", func(t *testing.T) {
		line := `{"type":"brand_new","x":{"y":[1,2]},"session_id":"s"}`
		if got := (&streamTracker{}).observe([]byte(line), false); string(got) != line {
			t.Errorf("relayed %s", got)
		}
	})
	t.Run("non-JSON and cut lines become a notice", func(t *testing.T) {
		tr := &streamTracker{}
		for _, tc := range []struct {
			data      string
			truncated bool
		}{{"plain text", false}, {`{"type":"result"`, true}, {`[1,2]`, false}, {`{"type":"result","is_error":false}`, true}} {
			ev := tr.observe([]byte(tc.data), tc.truncated)
			var notice struct {
				Type, Subtype, Text string
				Truncated           bool
				Bytes               int
			}
			if err := json.Unmarshal(ev, &notice); err != nil || notice.Type != "runner" || notice.Subtype != "invalid_line" ||
				notice.Text != tc.data || notice.Truncated != tc.truncated || notice.Bytes != len(tc.data) {
				t.Errorf("%q: notice %s", tc.data, ev)
			}
		}
		if tr.result != nil {
			t.Error("a cut result line was taken as the result")
		}
	})
}
