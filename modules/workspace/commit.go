package workspace

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"go.uber.org/zap"
)

// CommitMessage is the message of the runner's own commits (repository.push
// "always").
const CommitMessage = "Changes left uncommitted by the agent\n\nCommitted by claudette-runner after the turn."

// Commit commits what the agent left uncommitted in workspace id (tracked
// changes, deletions and untracked files that .gitignore does not exclude)
// on branch, which must be checked out, with the operator's author
// (gitAuthor) as author and committer, through go-git: no hook, no filter.
// It returns the new commit, or "" when there was nothing to commit.
func (m *Manager) Commit(ctx context.Context, id, branch, message string) (string, error) {
	if err := validateBranch(fieldBranch, branch); err != nil {
		return "", err
	}
	p, _, unlock, err := m.openWorkspace(ctx, id)
	if err != nil {
		return "", err
	}
	defer unlock()
	r, err := openRepo(p)
	if err != nil {
		return "", err
	}
	head, err := r.Head()
	if err != nil {
		return "", withClass(errdefs.ErrFailedPrecondition, fmt.Errorf("workspace %s: HEAD: %w", id, err))
	}
	if head.Name() != plumbing.NewBranchReferenceName(branch) {
		return "", withClass(errdefs.ErrFailedPrecondition, fmt.Errorf("workspace %s: HEAD is %s, not branch %s: nothing committed", id, head.Name().Short(), branch))
	}
	w, err := r.Worktree()
	if err != nil {
		return "", fmt.Errorf("workspace %s: %w", id, err)
	}
	st, err := w.Status()
	if err != nil {
		return "", fmt.Errorf("workspace %s: status: %w", id, err)
	}
	if st.IsClean() {
		return "", nil
	}
	if err := w.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("workspace %s: add: %w", id, err)
	}
	sig := &object.Signature{Name: m.git.author.Name, Email: m.git.author.Email, When: time.Now()}
	h, err := w.Commit(message, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", fmt.Errorf("workspace %s: commit: %w", id, err)
	}
	if err := m.handBack(p.gitDir); err != nil {
		return "", fmt.Errorf("workspace %s: %w", id, err)
	}
	m.log.Info("committed what the agent left", zap.String("workspace_id", id), zap.String("branch", branch), zap.String("commit", h.String()))
	return h.String(), nil
}

// handBack gives what the runner wrote in gitDir (new objects, the index,
// refs) to the sandbox user, and the read-only parts back to the runner, so
// the next turn's agent can go on.
func (m *Manager) handBack(dir string) error {
	if m.owner == nil {
		return nil
	}
	if err := m.owner.chownTree(dir); err != nil {
		return fmt.Errorf("hand %s to the sandbox user: %w", dir, err)
	}
	for _, part := range readOnlyGitParts {
		if err := m.rootOwnedIn(dir, part.name); err != nil {
			return err
		}
	}
	return nil
}
