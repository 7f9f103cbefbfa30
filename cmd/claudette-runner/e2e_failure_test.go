package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// How turns fail: success is the result line's is_error, never the exit code;
// no result line is -32003 with the sandbox's reason in words; a repository
// that cannot be cloned is -32001; another repository than the workspace's
// is -32602 naming repository.url.
func TestE2EFailuresAreAnsweredHonestly(t *testing.T) {
	e := newE2E(t, "failures")
	e.send("msg-api", "ws-api", "conv", "PROBE fail overloaded", nil)
	e.send("msg-exit", "ws-exit", "conv", "PROBE exit 3", nil)
	e.insert("msg-clone", "ws-clone", request("msg-clone", rpc.MethodConversationSend, map[string]any{
		"workspaceId": "ws-clone", "conversationId": "conv", "prompt": "hello",
		"repository": map[string]any{"url": e.git.URL + "/no-such-repo.git"}}))
	e.send("msg-first", "ws-other", "conv", "hello", nil)

	// An API error: a result line with is_error, exit code 1: a failed result, not an error.
	api := result(t, e.response("msg-api"))
	if api.Status != rpc.StatusFailed || api.ExitCode != 1 || !strings.Contains(deref(api.Result), "API Error: overloaded") {
		t.Errorf("API error turn = %+v (%s)", api, deref(api.Result))
	}
	// No result line: -32003 naming the exit.
	rerr := wantError(t, e.response("msg-exit"), rpc.CodeAgentFailed)
	if !strings.Contains(rerr.Message, "exited with code 3") {
		t.Errorf("agent without result: %q", rerr.Message)
	}
	var data sendResult
	if b, _ := json.Marshal(rerr.Data); json.Unmarshal(b, &data) != nil || data.ExitCode != 3 || data.Status != rpc.StatusFailed {
		t.Errorf("agent without result: data %v", rerr.Data)
	}
	// Clone failure.
	rerr = wantError(t, e.response("msg-clone"), rpc.CodeCheckoutFailed)
	if !strings.Contains(rerr.Message, "checkout failed") {
		t.Errorf("clone failure: %q", rerr.Message)
	}
	if exists(e.checkout("ws-clone")) {
		t.Error("a failed clone left a checkout")
	}
	// Another repository for an existing workspace.
	result(t, e.response("msg-first"))
	e.insert("msg-switch", "ws-other", request("msg-switch", rpc.MethodConversationSend, map[string]any{
		"workspaceId": "ws-other", "conversationId": "conv", "prompt": "hello",
		"repository": map[string]any{"url": e.git.URL + "/another.git"}}))
	rerr = wantError(t, e.response("msg-switch"), rpc.CodeInvalidParams)
	if !strings.Contains(rerr.Message, "repository.url") {
		t.Errorf("repository switch: %q", rerr.Message)
	}
	for _, id := range []string{"msg-api", "msg-exit", "msg-clone", "msg-first", "msg-switch"} {
		e.checkDelivery(id)
	}
	e.waitNoContainers()
}
