package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// workspace.delete stops the workspace's running turn and drops its queued
// one, and leaves nothing behind: no container, no checkout, no agent state,
// no session (a later turn of the same conversation starts a new one).
func TestE2EWorkspaceDeleteLeavesNothingBehind(t *testing.T) {
	e := newE2E(t, "delete")
	e.send("msg-d1", "ws-d", "conv-d", "PROBE write out/result.txt done", nil)
	first := result(t, e.response("msg-d1"))
	stateDir := filepath.Join(e.data, "workspaces", "ws-d")
	for _, p := range []string{e.checkout("ws-d", "out", "result.txt"), filepath.Join(stateDir, "claude", "projects")} {
		if !exists(p) {
			t.Fatalf("%s missing after the first turn", p)
		}
	}
	// Another workspace must survive the delete.
	e.send("msg-keep", "ws-keep", "conv-k", "PROBE write keep.txt keep", nil)
	result(t, e.response("msg-keep"))

	e.send("msg-d2", "ws-d", "conv-d", "PROBE sleep 120s", nil)
	e.waitEvent("msg-d2", `"command":"PROBE sleep 120s"`)
	e.send("msg-d3", "ws-d", "conv-other", "queued behind", nil)
	e.waitState("msg-d3", rpc.StateQueued)

	deleted := e.call("del-1", "ws-d", rpc.MethodWorkspaceDelete, map[string]any{"workspaceId": "ws-d"})
	if string(deleted.Result) != `{"deleted":true}` {
		t.Fatalf("workspace.delete = %s %v", deleted.Result, deleted.Error)
	}
	wantError(t, e.response("msg-d2"), rpc.CodeCancelled)
	wantError(t, e.response("msg-d3"), rpc.CodeCancelled)
	e.checkDelivery("msg-d2")
	e.checkDelivery("msg-d3")

	if left := e.containers(); len(left) != 0 {
		t.Errorf("containers after workspace.delete: %v", left)
	}
	for _, p := range []string{e.checkout("ws-d"), stateDir} {
		if exists(p) {
			entries, _ := os.ReadDir(p)
			t.Errorf("%s still exists after workspace.delete (%d entries)", p, len(entries))
		}
	}
	if !exists(e.checkout("ws-keep", "keep.txt")) || !exists(filepath.Join(e.data, "workspaces", "ws-keep")) {
		t.Error("workspace.delete of ws-d touched ws-keep")
	}

	// Deleting it again is fine; the workspace can start afresh, with a new session.
	again := e.call("del-2", "ws-d", rpc.MethodWorkspaceDelete, map[string]any{"workspaceId": "ws-d"})
	if string(again.Result) != `{"deleted":true}` {
		t.Errorf("second workspace.delete = %s %v", again.Result, again.Error)
	}
	e.send("msg-d4", "ws-d", "conv-d", "hello again", nil)
	fresh := result(t, e.response("msg-d4"))
	if fresh.SessionID == first.SessionID || strings.Contains(deref(fresh.Result), "resumed session") {
		t.Errorf("after delete the conversation resumed its old session: %s %q", fresh.SessionID, deref(fresh.Result))
	}
	if exists(e.checkout("ws-d", "out", "result.txt")) {
		t.Error("the new checkout holds the deleted one's files")
	}
	e.waitNoContainers()
}
