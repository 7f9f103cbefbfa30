package workspace

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/containerd/errdefs"
)

// bareGit runs git on the test's own bare repository (never on a checkout).
func bareGit(t *testing.T, repo *gittest.Repo, args ...string) string {
	t.Helper()
	return repo.Git(append([]string{"--git-dir=" + repo.Dir}, args...)...)
}

func TestCommitAndPushLandOnTheRemote(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	const token = "push-token-123"
	s.srv.RequireToken(token)
	h := newHarness(t, func(c *config.Config) {
		c.Git.Tokens = s.srv.Host() + "=" + token
		c.Git.Author = "Runner Bot <bot@example.invalid>"
	})
	ctx := context.Background()
	co := h.onBranch(t, s.url)
	if sha, err := h.m.Commit(ctx, "ws-1", "claudette/c-1", CommitMessage); err != nil || sha != "" {
		t.Fatalf("Commit of a clean checkout = %q, %v; want nothing", sha, err)
	}
	agentSHA := agentCommit(t, co, "agent work", map[string]string{"agent.txt": "by the agent\n"})
	writeFile(t, filepath.Join(co.Dir, "left.txt"), "left over\n")
	writeFile(t, filepath.Join(co.Dir, "ignored.tmp"), "x\n")
	writeFile(t, filepath.Join(co.Dir, ".gitignore"), "*.tmp\n")

	sha, err := h.m.Commit(ctx, "ws-1", "claudette/c-1", CommitMessage)
	if err != nil || sha == "" {
		t.Fatalf("Commit = %q, %v", sha, err)
	}
	pushed, err := h.m.Push(ctx, "ws-1", "claudette/c-1")
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if *pushed != (PushedRef{Ref: "refs/heads/claudette/c-1", SHA: sha}) {
		t.Fatalf("pushed = %+v, want refs/heads/claudette/c-1 at %s", pushed, sha)
	}
	if got := bareGit(t, s.repo, "rev-parse", "refs/heads/claudette/c-1"); got != sha {
		t.Fatalf("remote branch at %s, want %s", got, sha)
	}
	if got := bareGit(t, s.repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%P", sha); got != "Runner Bot <bot@example.invalid>|Runner Bot <bot@example.invalid>|"+agentSHA {
		t.Fatalf("runner's commit: %q", got)
	}
	files := bareGit(t, s.repo, "ls-tree", "-r", "--name-only", sha)
	if !strings.Contains(files, "left.txt") || !strings.Contains(files, "agent.txt") || strings.Contains(files, "ignored.tmp") {
		t.Fatalf("committed tree:\n%s", files)
	}
	if got := bareGit(t, s.repo, "rev-parse", "refs/heads/main"); got != s.second {
		t.Fatalf("main moved to %s", got)
	}
	rep, err := h.m.Report(ctx, "ws-1")
	if err != nil || rep.Dirty || rep.Head != sha {
		t.Fatalf("report after commit = %+v, %v", rep, err)
	}
	// Pushing again is a no-op that still names the commit.
	if again, err := h.m.Push(ctx, "ws-1", "claudette/c-1"); err != nil || again.SHA != sha {
		t.Fatalf("second Push = %+v, %v", again, err)
	}
	for _, r := range s.srv.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("request %s %s?%s went without the token", r.Method, r.Path, r.Query)
		}
	}
	if found := filesContaining(t, h.cfg.DataDir, []byte(token)); len(found) > 0 {
		t.Errorf("token written to %v", found)
	}
}

func TestPushRefusedOrFailing(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	s.srv.RefusePushes()
	h := newHarness(t, func(c *config.Config) { c.Git.PushBranches = []string{"claudette/*"} })
	ctx := context.Background()
	co := h.onBranch(t, s.url)
	agentCommit(t, co, "work", map[string]string{"x.txt": "x\n"})
	if _, err := h.m.Push(ctx, "ws-1", "claudette/c-1"); err == nil {
		t.Fatal("Push to a server that refuses pushes succeeded")
	}
	if _, err := h.m.Push(ctx, "ws-1", "feature/x"); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("Push of a branch outside gitPushBranches = %v, want permission denied", err)
	}
	if got := bareGit(t, s.repo, "for-each-ref", "--format=%(refname)", "refs/heads/claudette"); got != "" {
		t.Fatalf("the remote got %s", got)
	}
}
