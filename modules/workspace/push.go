package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"go.uber.org/zap"
)

// Push pushes branch of workspace id to the workspace's repository (the URL
// in the runner's record) with the runner's credential, as
// refs/heads/{branch}:refs/heads/{branch}, never forced. The branch must
// match the operator's gitPushBranches (permission-denied class otherwise).
// A remote that is already at the commit counts as pushed. The remote
// updates the ref atomically: a push the runner did not finish leaves the
// ref as it was, and the next push sends it again.
func (m *Manager) Push(ctx context.Context, id, branch string) (*PushedRef, error) {
	if err := validateBranch(fieldBranch, branch); err != nil {
		return nil, err
	}
	if !config.BranchAllowed(m.git.pushBranches, branch) {
		return nil, withClass(errdefs.ErrPermissionDenied, fmt.Errorf("branch %s does not match the branches this runner may push", branch))
	}
	p, rec, unlock, err := m.openWorkspace(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := openRepo(p)
	if err != nil {
		return nil, err
	}
	name := plumbing.NewBranchReferenceName(branch)
	ref, err := r.Reference(name, true)
	if err != nil {
		return nil, withClass(errdefs.ErrNotFound, fmt.Errorf("workspace %s: branch %s: %w", id, branch, err))
	}
	src := m.sourceOf(rec)
	err = r.PushContext(ctx, &git.PushOptions{
		RemoteName: git.DefaultRemoteName,
		RemoteURL:  src.url,
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec(name.String() + ":" + name.String())},
		Auth:       src.auth,
	})
	if herr := m.handBack(p.gitDir); herr != nil {
		m.log.Warn("cannot hand the git dir back to the sandbox user", zap.String("workspace_id", id), zap.Error(herr))
	}
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("push %s to %s: %w", branch, src.url, classifyGit(err))
	}
	m.log.Info("pushed the conversation's branch", zap.String("workspace_id", id), zap.String("branch", branch),
		zap.String("commit", ref.Hash().String()))
	return &PushedRef{Ref: name.String(), SHA: ref.Hash().String()}, nil
}
