package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// gitHostToken is the runner's own credential for the e2e git host.
const gitHostToken = "ghp-e2e-relay-credential-do-not-leak"

// The agent, with the image's stock git and no credential, commits and
// pushes its conversation's branch through the runner's git relay: the host
// gets the runner's credential, the push lands, a git_push event and the
// result's git.pushed say so; a push to main is refused with git's own
// "[remote rejected]" and never reaches the host; the credential is nowhere
// the sandbox, the orchestrator or the logs can see.
func TestE2EAgentPushesThroughTheGitRelay(t *testing.T) {
	e := newE2E(t, "gitrelay")
	repo := gittest.NewRepo(t, repoFiles)
	repo.SetConfig("http.receivepack", "true")
	srv := gittest.Serve(t, repo)
	srv.RequireToken(gitHostToken)
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("CLAUDETTE_GIT_TOKENS", host+"="+gitHostToken)
	e.d.stop(t)
	e.start()
	base := repo.Head()

	prompt := strings.Join([]string{
		"Commit and push the work.",
		"PROBE sh echo from-the-agent > agent.txt && git add agent.txt && git commit -qm 'agent work' && git push origin HEAD:claudette/conv-r 2>&1",
		"PROBE sh git push origin HEAD:main 2>&1; echo exit=$?",
		"PROBE sh env; git config -l; cat .git/config; ls -la /run/claudette",
	}, "\n")
	params := map[string]any{"workspaceId": "ws-r", "conversationId": "conv-r", "prompt": prompt,
		"repository": map[string]any{"url": srv.RepoURL(repo), "ref": gittest.DefaultBranch}}
	e.insert("msg-r", "ws-r", request("msg-r", rpc.MethodConversationSend, params))
	status, g := gitResult(t, e, "msg-r")
	if status != rpc.StatusCompleted || g == nil {
		t.Fatalf("status %s, git %+v", status, g)
	}

	pushed := repo.Git("--git-dir="+repo.Dir, "rev-parse", "refs/heads/claudette/conv-r")
	if msg := repo.Git("--git-dir="+repo.Dir, "log", "-1", "--format=%s|%an", pushed); msg != "agent work|Claude" {
		t.Errorf("the pushed commit is %q", msg)
	}
	if main := repo.Git("--git-dir="+repo.Dir, "rev-parse", "refs/heads/"+gittest.DefaultBranch); main != base {
		t.Errorf("main moved from %s to %s", base, main)
	}
	if n := len(srv.Pushes()); n != 1 {
		t.Errorf("the host saw %d receive-pack requests, want the branch's only", n)
	}
	for _, r := range srv.Requests() {
		if !strings.HasPrefix(r.Authorization, "Basic ") {
			t.Errorf("%s %s reached the host without the runner's credential", r.Method, r.Path)
		}
	}
	if g.Pushed == nil || *g.Pushed != (workspace.PushedRef{Ref: "refs/heads/claudette/conv-r", SHA: pushed}) ||
		g.Head != pushed || g.Base != base || g.Branch != "claudette/conv-r" || g.Dirty {
		t.Errorf("git = %+v (pushed %+v), the host's branch is at %s", g, g.Pushed, pushed)
	}
	if p := runnerEvents(e, "msg-r", rpc.RunnerGitPush); len(p) != 1 || p[0]["ref"] != "refs/heads/claudette/conv-r" || p[0]["new"] != pushed {
		t.Errorf("git_push events: %v", p)
	}
	if r := runnerEvents(e, "msg-r", rpc.RunnerGitPushRefused); len(r) != 1 || r[0]["ref"] != "refs/heads/"+gittest.DefaultBranch {
		t.Errorf("git_push_refused events: %v", r)
	}
	var all strings.Builder
	for _, ev := range e.orch.Events("msg-r") {
		all.Write(ev.Event)
	}
	stream := all.String()
	if !strings.Contains(stream, `[remote rejected] HEAD -`) || !strings.Contains(stream, `main (git relay: only refs/heads/claudette/conv-r may be pushed)`) {
		t.Errorf("the agent's push to main did not print git's [remote rejected]:\n%s", stream)
	}
	if !strings.Contains(stream, "exit=1") {
		t.Error("the refused push did not make git exit non-zero")
	}
	if strings.Contains(stream, gitHostToken) || strings.Contains(string(e.response("msg-r").Result), gitHostToken) {
		t.Error("the git credential reached the orchestrator")
	}
	logs, _ := filepath.Glob(filepath.Join(e.data, "logs", "*.log"))
	for _, f := range logs {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), gitHostToken) {
			t.Errorf("the git credential is in %s", f)
		}
	}
	if strings.Contains(e.d.stderrText(), gitHostToken) {
		t.Error("the git credential is in the console log")
	}
	if b, _ := json.Marshal(e.orch.Items()); strings.Contains(string(b), gitHostToken) {
		t.Error("the git credential is in an item the orchestrator got")
	}
	e.checkDelivery("msg-r")
}
