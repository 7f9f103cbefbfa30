package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/containerd/errdefs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/index"
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
	if err := stageAll(r, w.Filesystem, st); err != nil {
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

// stageAll is `git add --all` for the paths status reports changed in the
// worktree (untracked files that .gitignore excludes are not reported): a
// path that is gone, or whose parent is no longer a real directory, leaves
// the index; a regular file or a symlink (its target text, never followed)
// is written as a blob and staged. go-git's own Add refuses a path under a
// directory that became a symlink, which an agent can leave behind.
func stageAll(r *git.Repository, wt billy.Filesystem, st git.Status) error {
	idx, err := r.Storer.Index()
	if err != nil {
		return err
	}
	for name, s := range st {
		if s.Worktree == git.Unmodified {
			continue
		}
		fi, ok, err := worktreeEntry(wt, name)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := idx.Remove(name); err != nil && !errors.Is(err, index.ErrEntryNotFound) {
				return fmt.Errorf("unstage %s: %w", name, err)
			}
			continue
		}
		h, mode, err := writeBlob(r, wt, name, fi)
		if err != nil {
			return err
		}
		e, err := idx.Entry(name)
		if err != nil {
			e = idx.Add(name)
		}
		e.Hash, e.Mode, e.Size, e.ModifiedAt = h, mode, uint32(fi.Size()), fi.ModTime()
	}
	return r.Storer.SetIndex(idx)
}

// worktreeEntry is name's file info when name is a regular file or a
// symlink whose every parent is a real directory (Lstat, no following).
func worktreeEntry(wt billy.Filesystem, name string) (os.FileInfo, bool, error) {
	dir := ""
	for _, part := range strings.Split(path.Dir(name), "/") {
		if part == "." {
			break
		}
		dir = path.Join(dir, part)
		if fi, err := wt.Lstat(dir); err != nil || !fi.IsDir() {
			return nil, false, nil
		}
	}
	fi, err := wt.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("worktree %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0 {
		return nil, false, nil
	}
	return fi, true, nil
}

func writeBlob(r *git.Repository, wt billy.Filesystem, name string, fi os.FileInfo) (plumbing.Hash, filemode.FileMode, error) {
	obj := r.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	mode := filemode.Regular
	var src io.Reader
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := wt.Readlink(name)
		if err != nil {
			return plumbing.ZeroHash, 0, fmt.Errorf("worktree %s: %w", name, err)
		}
		mode, src = filemode.Symlink, strings.NewReader(target)
	} else {
		f, err := wt.Open(name)
		if err != nil {
			return plumbing.ZeroHash, 0, fmt.Errorf("worktree %s: %w", name, err)
		}
		defer f.Close()
		if fi.Mode()&0o111 != 0 {
			mode = filemode.Executable
		}
		src = f
	}
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	if _, err := io.Copy(w, src); err != nil {
		w.Close()
		return plumbing.ZeroHash, 0, fmt.Errorf("worktree %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	h, err := r.Storer.SetEncodedObject(obj)
	return h, mode, err
}
