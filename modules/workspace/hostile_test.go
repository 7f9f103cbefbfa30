package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// A hostile repository whose tree holds both a symlink "link" pointing
// outside the checkout and a directory "link" with a file in it must not make
// the runner (often root) write through the symlink.
func TestHostileTreeCannotWriteOutsideTheCheckout(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	repo := gittest.NewRepo(t, map[string]string{"README.md": "x"})
	linkBlob := repo.GitInput(outside, "hash-object", "-w", "--stdin")
	fileBlob := repo.GitInput("pwned", "hash-object", "-w", "--stdin")
	sub := repo.GitInput(fmt.Sprintf("100644 blob %s\tpwned\n", fileBlob), "mktree")
	root := repo.GitInput(fmt.Sprintf("120000 blob %s\tlink\n040000 tree %s\tlink\n040000 tree %s\t.git\n", linkBlob, sub, sub), "mktree")
	commit := repo.GitInput("", "commit-tree", "-m", "hostile", root)
	repo.Git("update-ref", "refs/heads/hostile", commit)
	repo.Publish()
	srv := gittest.Serve(t, repo)

	h := newHarness(t, nil)
	_, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: srv.RepoURL(repo), Ref: "hostile"})
	// The fetch succeeds and the checkout of the hostile tree is refused (go-git
	// cannot walk a tree whose "link" is both a symlink and a directory). Any
	// other outcome means the tree was never checked out, and the checks below
	// would prove nothing.
	if err == nil {
		t.Fatal("Prepare accepted the hostile tree")
	}
	if !errors.Is(err, object.ErrDirectoryNotFound) {
		t.Fatalf("Prepare failed before checking out the hostile tree: %v", err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Errorf("the clone wrote outside the checkout: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(h.cfg.WorkspaceDir, "ws-1", ".git", "pwned")); err == nil {
		t.Error("the tree's .git entry overwrote the repository's own .git")
	}
}
