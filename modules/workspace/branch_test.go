package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/containerd/errdefs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// agentCommit commits files in a checkout as the agent would (go-git in the
// test, the git CLI in the sandbox).
func agentCommit(t *testing.T, co Checkout, msg string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		writeFile(t, filepath.Join(co.Dir, name), content)
	}
	w, err := openCheckout(t, co).Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "agent", Email: "agent@example.invalid", When: time.Now()}
	h, err := w.Commit(msg, &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func TestConversationBranchCreatedContinuedAndFetched(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	// Another runner already pushed conversation c-9's branch.
	s.repo.Branch("claudette/c-9")
	c9 := s.repo.Commit("c-9 work", map[string]string{"c9.txt": "from c-9\n"})
	s.repo.Switch(gittest.DefaultBranch)
	h := newHarness(t, nil)
	ctx := context.Background()

	co, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatal(err)
	}
	// First turn: created at the workspace's commit.
	if err := h.m.CheckoutBranch(ctx, "ws-1", "claudette/c-1"); err != nil {
		t.Fatalf("CheckoutBranch (create): %v", err)
	}
	if sha, branch, _ := headOf(t, co); sha != s.second || branch != "claudette/c-1" {
		t.Fatalf("HEAD %s on %q, want %s on claudette/c-1", sha, branch, s.second)
	}
	// The agent commits; the next turn continues where it left off.
	work := agentCommit(t, co, "agent work", map[string]string{"a.txt": "a\n"})
	if _, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url}); err != nil {
		t.Fatal(err)
	}
	if err := h.m.CheckoutBranch(ctx, "ws-1", "claudette/c-1"); err != nil {
		t.Fatalf("CheckoutBranch (continue): %v", err)
	}
	if sha, branch, _ := headOf(t, co); sha != work || branch != "claudette/c-1" {
		t.Fatalf("HEAD %s on %q, want the agent's %s on claudette/c-1", sha, branch, work)
	}

	// Uncommitted work on c-1 blocks another conversation, and stays.
	writeFile(t, filepath.Join(co.Dir, "wip.txt"), "wip\n")
	err = h.m.CheckoutBranch(ctx, "ws-1", "claudette/c-2")
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "uncommitted") || !strings.Contains(err.Error(), "claudette/c-1") {
		t.Fatalf("CheckoutBranch over uncommitted work = %v, want a failed precondition naming claudette/c-1", err)
	}
	if got := readFile(t, filepath.Join(co.Dir, "wip.txt")); got != "wip\n" {
		t.Fatalf("uncommitted work changed: %q", got)
	}
	if _, branch, _ := headOf(t, co); branch != "claudette/c-1" {
		t.Fatalf("HEAD moved to %q", branch)
	}
	// Once committed, c-2 starts at the workspace's commit, without c-1's work.
	agentCommit(t, co, "wip", nil)
	if err := h.m.CheckoutBranch(ctx, "ws-1", "claudette/c-2"); err != nil {
		t.Fatalf("CheckoutBranch (c-2): %v", err)
	}
	if sha, branch, _ := headOf(t, co); sha != s.second || branch != "claudette/c-2" {
		t.Fatalf("HEAD %s on %q, want %s on claudette/c-2", sha, branch, s.second)
	}
	if _, err := os.Lstat(filepath.Join(co.Dir, "a.txt")); !os.IsNotExist(err) {
		t.Fatalf("c-1's file is in c-2's checkout: %v", err)
	}

	// A branch only on the remote is fetched and continued.
	co2, err := h.m.Prepare(ctx, "ws-2", Repository{URL: s.url})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.m.CheckoutBranch(ctx, "ws-2", "claudette/c-9"); err != nil {
		t.Fatalf("CheckoutBranch (from the remote): %v", err)
	}
	if sha, branch, _ := headOf(t, co2); sha != c9 || branch != "claudette/c-9" {
		t.Fatalf("HEAD %s on %q, want the remote's %s on claudette/c-9", sha, branch, c9)
	}
	if got := readFile(t, filepath.Join(co2.Dir, "c9.txt")); got != "from c-9\n" {
		t.Fatalf("c9.txt = %q", got)
	}

	for _, bad := range []string{"a..b", "-x", "x.lock", "a b", "x@{1}", ""} {
		if err := h.m.CheckoutBranch(ctx, "ws-1", bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("CheckoutBranch(%q) = %v, want invalid argument", bad, err)
		}
	}
}
