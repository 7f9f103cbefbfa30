package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// gitResult is the result's git (CONTRACT section 6).
func gitResult(t *testing.T, e *e2e, msgID string) (string, *workspace.GitReport) {
	t.Helper()
	it := e.response(msgID)
	res := result(t, it)
	var r struct {
		Git *workspace.GitReport `json:"git"`
	}
	if err := json.Unmarshal(it.Result, &r); err != nil {
		t.Fatal(err)
	}
	return res.Status, r.Git
}

// runnerEvents are a message's runner events of subtype, decoded.
func runnerEvents(e *e2e, msgID, subtype string) []map[string]any {
	var out []map[string]any
	for _, ev := range e.orch.Events(msgID) {
		var m map[string]any
		if json.Unmarshal(ev.Event, &m) == nil && m["type"] == rpc.EventTypeRunner && m["subtype"] == subtype {
			out = append(out, m)
		}
	}
	return out
}

// The agent writes a file and leaves it uncommitted; with push "always" the
// runner commits it on the conversation's branch with its author, pushes it,
// and the result's git says so; with "never" the change is reported and
// stays; a push the server refuses leaves pushed null and says why in an
// event, the turn still completed.
func TestE2EGitReportAndPushAlways(t *testing.T) {
	e := newE2E(t, "git")
	e.repo.SetConfig("http.receivepack", "true")
	base := e.repo.Head()
	send := func(msgID, ws, conv, url, push string) {
		params := map[string]any{"workspaceId": ws, "conversationId": conv,
			"prompt":     "Write a note.\nPROBE write notes/new.txt hello from the agent",
			"repository": map[string]any{"url": url, "ref": gittest.DefaultBranch, "push": push}}
		e.insert(msgID, ws, request(msgID, rpc.MethodConversationSend, params))
	}

	send("msg-push", "ws-push", "conv-push", e.repoURL(), "always")
	status, g := gitResult(t, e, "msg-push")
	if status != rpc.StatusCompleted || g == nil {
		t.Fatalf("status %s, git %+v", status, g)
	}
	remote := e.repo.Git("--git-dir="+e.repo.Dir, "rev-parse", "refs/heads/claudette/conv-push")
	if g.Branch != "claudette/conv-push" || g.Base != base || g.Head != remote || g.Dirty ||
		g.FilesChanged != 1 || g.Insertions != 1 || g.Deletions != 0 ||
		g.Pushed == nil || *g.Pushed != (workspace.PushedRef{Ref: "refs/heads/claudette/conv-push", SHA: remote}) {
		t.Fatalf("git = %+v (pushed %+v); the remote branch is at %s", g, g.Pushed, remote)
	}
	if who := e.repo.Git("--git-dir="+e.repo.Dir, "log", "-1", "--format=%an <%ae>", remote); who != "Claude <noreply@anthropic.com>" {
		t.Errorf("the runner's commit is by %q", who)
	}
	if c := runnerEvents(e, "msg-push", rpc.RunnerGitCommit); len(c) != 1 || c[0]["sha"] != remote || c[0]["ref"] != "refs/heads/claudette/conv-push" {
		t.Errorf("git_commit events: %v", c)
	}
	if entries, err := os.ReadDir(e.checkout("ws-push", ".git")); err != nil || len(entries) != 0 {
		t.Errorf("the checkout's .git on the host: %v, %v; want an empty mount point", entries, err)
	}
	e.checkDelivery("msg-push")

	send("msg-keep", "ws-keep", "conv-keep", e.repoURL(), "never")
	status, g = gitResult(t, e, "msg-keep")
	if status != rpc.StatusCompleted || g == nil || g.Branch != "claudette/conv-keep" || g.Head != base || g.Base != base ||
		!g.Dirty || g.FilesChanged != 1 || g.Insertions != 1 || g.Pushed != nil {
		t.Fatalf("push never: status %s, git %+v", status, g)
	}

	// Another repository whose server refuses pushes.
	other := gittest.NewRepo(t, repoFiles)
	srv := gittest.Serve(t, other)
	srv.RefusePushes()
	send("msg-refused", "ws-refused", "conv-refused", srv.RepoURL(other), "always")
	status, g = gitResult(t, e, "msg-refused")
	if status != rpc.StatusCompleted || g == nil || g.Pushed != nil || g.Dirty || g.FilesChanged != 1 {
		t.Fatalf("refused push: status %s, git %+v", status, g)
	}
	if f := runnerEvents(e, "msg-refused", rpc.RunnerGitPushFailed); len(f) != 1 || f[0]["ref"] != "refs/heads/claudette/conv-refused" || f[0]["reason"] == "" {
		t.Errorf("git_push_failed events: %v", f)
	}
	if c := runnerEvents(e, "msg-refused", rpc.RunnerGitCommit); len(c) != 1 {
		t.Errorf("git_commit events: %v", c)
	}
	e.checkDelivery("msg-refused")
}
