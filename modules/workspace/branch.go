package workspace

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"go.uber.org/zap"
)

// gitPolicy is the operator's git settings the manager applies.
type gitPolicy struct {
	author       config.Author
	pushBranches []string
}

// CheckoutBranch checks out the conversation's branch in workspace id for a
// turn (after Prepare, under Lock). Already checked out: nothing changes. A
// local branch is checked out; a branch only on the remote is fetched
// (shallow, with the runner's credential) and created from there; otherwise
// it is created at the commit the workspace was checked out at (Checkout's
// Commit, the report's base).
//
// Switching branches needs a clean worktree: uncommitted changes (tracked or
// untracked, .gitignore respected) on another branch are never carried over
// or discarded; the error (failed-precondition class) names the branch that
// holds them and what to do.
func (m *Manager) CheckoutBranch(ctx context.Context, id, branch string) error {
	if err := validateBranch(fieldBranch, branch); err != nil {
		return err
	}
	p, rec, unlock, err := m.openWorkspace(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := openRepo(p)
	if err != nil {
		return err
	}
	want := plumbing.NewBranchReferenceName(branch)
	head, headErr := r.Head()
	if headErr == nil && head.Name() == want {
		return nil
	}
	w, err := r.Worktree()
	if err != nil {
		return fmt.Errorf("workspace %s: %w", id, err)
	}
	if err := refuseDirty(w, id, head, branch); err != nil {
		return err
	}
	log := m.log.With(zap.String("workspace_id", id), zap.String("branch", branch))
	opts := &git.CheckoutOptions{Branch: want, Force: true}
	_, err = r.Reference(want, true)
	switch {
	case err == nil:
		log.Info("switching to the conversation's branch")
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		hash, found, err := m.fetchBranch(ctx, r, rec, branch)
		if err != nil {
			return fmt.Errorf("workspace %s: look for branch %s on the remote: %w", id, branch, err)
		}
		if found {
			log.Info("continuing the conversation's branch from the remote", zap.String("commit", hash.String()))
			if err := r.Storer.SetReference(plumbing.NewHashReference(want, hash)); err != nil {
				return fmt.Errorf("workspace %s: create branch %s: %w", id, branch, err)
			}
		} else {
			log.Info("creating the conversation's branch", zap.String("commit", rec.Commit))
			opts.Create, opts.Hash = true, plumbing.NewHash(rec.Commit)
		}
	default:
		return fmt.Errorf("workspace %s: branch %s: %w", id, branch, err)
	}
	if err := w.Checkout(opts); err != nil {
		return fmt.Errorf("workspace %s: check out branch %s: %w", id, branch, err)
	}
	if err := m.handBack(p.gitDir); err != nil {
		return fmt.Errorf("workspace %s: %w", id, err)
	}
	if err := m.owner.chownTree(p.checkout); err != nil {
		return fmt.Errorf("workspace %s: hand the checkout to the sandbox user: %w", id, err)
	}
	return nil
}

// refuseDirty is a failed-precondition error when the worktree has
// uncommitted changes.
func refuseDirty(w *git.Worktree, id string, head *plumbing.Reference, branch string) error {
	st, err := w.Status()
	if err != nil {
		return fmt.Errorf("workspace %s: status: %w", id, err)
	}
	if st.IsClean() {
		return nil
	}
	var changed []string
	for path, s := range st {
		if s.Worktree != git.Unmodified || s.Staging != git.Unmodified {
			changed = append(changed, path)
		}
	}
	sort.Strings(changed)
	on := "a detached HEAD"
	if head != nil && head.Name().IsBranch() {
		on = "branch " + head.Name().Short()
	}
	sample := changed
	if len(sample) > 3 {
		sample = append(sample[:3:3], "...")
	}
	return withClass(errdefs.ErrFailedPrecondition, fmt.Errorf("workspace %s has %d uncommitted change(s) on %s (%s); "+
		"this turn needs branch %s and the runner neither carries nor discards them: "+
		"commit them in that branch's conversation (or use repository.push \"always\"), or delete the workspace",
		id, len(changed), on, sanitizeList(sample), branch))
}

// fetchBranch fetches branch from the workspace's repository when it exists
// there, shallow, into refs/remotes/origin/{branch}.
func (m *Manager) fetchBranch(ctx context.Context, r *git.Repository, rec *record, branch string) (plumbing.Hash, bool, error) {
	src := m.sourceOf(rec)
	refs, err := listRefs(ctx, src)
	if err != nil {
		return plumbing.ZeroHash, false, classifyGit(err)
	}
	name := plumbing.NewBranchReferenceName(branch)
	found := false
	for _, ref := range refs {
		if ref.Name() == name {
			found = true
		}
	}
	if !found {
		return plumbing.ZeroHash, false, nil
	}
	dst := plumbing.NewRemoteReferenceName(git.DefaultRemoteName, branch)
	err = r.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RemoteURL:  src.url,
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec("+" + name.String() + ":" + dst.String())},
		Depth:      1,
		Auth:       src.auth,
		Tags:       git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, false, classifyGit(err)
	}
	ref, err := r.Reference(dst, true)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	hash, err := peelToCommit(r, ref.Hash())
	return hash, err == nil, err
}

// sourceOf is where the workspace's repository is, with the runner's
// credential: the URL in the runner's record, never the git dir's config.
func (m *Manager) sourceOf(rec *record) source {
	if rec.Local {
		return source{url: rec.Repository.URL, local: true}
	}
	return source{url: rec.Repository.URL, auth: m.authFor(rec.Repository.URL)}
}

// openWorkspace is the common start of a host-side git operation on an
// existing workspace: its paths and record, the filesystem lock (the
// returned func releases it) and the layout secured (secureGit).
func (m *Manager) openWorkspace(ctx context.Context, id string) (paths, *record, func(), error) {
	p, err := m.pathsOf(id)
	if err != nil {
		return paths{}, nil, nil, err
	}
	unlock, err := m.fs.lock(ctx, id)
	if err != nil {
		return paths{}, nil, nil, err
	}
	rec, err := readRecord(p.record)
	if err != nil {
		unlock()
		if isNotExist(err) {
			return paths{}, nil, nil, withClass(errdefs.ErrNotFound, fmt.Errorf("workspace %s has no checkout", id))
		}
		return paths{}, nil, nil, err
	}
	if !rec.GitDir {
		if err := m.migrate(p, rec); err != nil {
			unlock()
			return paths{}, nil, nil, fmt.Errorf("workspace %s: %w", id, err)
		}
	}
	if err := m.secureGit(p); err != nil {
		unlock()
		return paths{}, nil, nil, fmt.Errorf("workspace %s: %w", id, err)
	}
	return p, rec, unlock, nil
}

// sanitizeList joins paths the agent chose for a message: control
// characters are escaped so they cannot reach a terminal raw.
func sanitizeList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		q := fmt.Sprintf("%q", n)
		out[i] = q[1 : len(q)-1]
	}
	return strings.Join(out, ", ")
}
