package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"go.uber.org/zap"
)

// The git dir of a workspace lives in the runner's state, not in the
// checkout: {dataDir}/workspaces/{id}/git. The checkout's ".git" is an empty
// directory, the mount point over which the sandbox gets the git dir
// (read-write), and over that the parts git reads as configuration or runs
// (readOnlyGitParts), read-only. See doc.go.
const (
	gitDirName    = "git"
	gitTempPrefix = ".git-clone-" // a git dir being cloned, next to gitDirName
)

// readOnlyGitParts are the entries of the git dir the sandbox gets read-only:
// the configuration, the hooks and info (attributes, exclude, grafts,
// sparse-checkout). The runner keeps them: created when missing, owned by
// the runner, never a symlink.
var readOnlyGitParts = []struct {
	name string
	dir  bool
}{{"config", false}, {"hooks", true}, {"info", true}}

// strayGitFiles are paths in the git dir that git reads as configuration or
// as a redirection elsewhere (another git dir, object store or attributes)
// and that the runner never writes: removed at every turn start and before
// any host-side operation. Symlinks and special files anywhere in the git
// dir are removed as well.
var strayGitFiles = []string{
	"commondir",
	"gitdir",
	"config.worktree",
	"info/attributes",
	"objects/info/alternates",
	"objects/info/http-alternates",
}

// ReadOnlyGitParts names the entries of Checkout.GitDir to mount read-only
// over the read-write git dir.
func ReadOnlyGitParts() []string {
	names := make([]string, len(readOnlyGitParts))
	for i, p := range readOnlyGitParts {
		names[i] = p.name
	}
	return names
}

// secureGit makes the layout the runner's again before a turn or a host-side
// git operation: the checkout's .git is an empty directory (whatever the
// agent put there is removed, never followed), the git dir is a real
// directory without redirections, symlinks or special files, and its
// read-only parts exist with the runner's content. The real git state is in
// the data dir, out of the agent's reach between turns.
func (m *Manager) secureGit(p paths) error {
	if err := m.ensureMountPoint(p); err != nil {
		return err
	}
	fi, err := os.Lstat(p.gitDir)
	if err != nil {
		return withClass(errdefs.ErrFailedPrecondition, fmt.Errorf("git state of the workspace (%s): %w; "+
			"the runner has no other copy of it: delete the workspace (workspace.delete) to start over", p.gitDir, err))
	}
	if !fi.IsDir() {
		return withClass(errdefs.ErrFailedPrecondition, fmt.Errorf("git state of the workspace (%s) is a %v, not a directory; "+
			"delete the workspace (workspace.delete) to start over", p.gitDir, fi.Mode().Type()))
	}
	removed, err := sanitizeGitDir(p.gitDir)
	if err != nil {
		return fmt.Errorf("secure git dir %s: %w", p.gitDir, err)
	}
	if len(removed) > 0 {
		m.log.Warn("removed what the agent planted in the git dir", zap.String("dir", p.gitDir), zap.Strings("removed", removed))
	}
	return m.ensureReadOnlyParts(p.gitDir)
}

// ensureMountPoint makes the checkout's .git an empty directory: a file, a
// symlink or a directory with content in its place is removed (os.RemoveAll
// never follows a symlink) and replaced.
func (m *Manager) ensureMountPoint(p paths) error {
	dot := filepath.Join(p.checkout, git.GitDirName)
	fi, err := os.Lstat(dot)
	switch {
	case err == nil && fi.IsDir():
		empty, err := isEmptyDir(dot)
		if err != nil {
			return fmt.Errorf("check %s: %w", dot, err)
		}
		if empty {
			return nil
		}
		fallthrough
	case err == nil:
		m.log.Warn("the checkout's .git was replaced; restoring the mount point", zap.String("dir", dot),
			zap.String("type", fi.Mode().Type().String()))
		if err := os.RemoveAll(dot); err != nil {
			return fmt.Errorf("repair %s: %w", dot, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check %s: %w", dot, err)
	}
	if err := os.Mkdir(dot, 0o755); err != nil {
		return fmt.Errorf("repair %s: %w", dot, err)
	}
	return m.owner.chown(dot)
}

// sanitizeGitDir removes strayGitFiles and every symlink or special file
// under dir, without following any symlink, and returns what it removed
// (relative paths).
func sanitizeGitDir(dir string) ([]string, error) {
	var removed []string
	for _, name := range strayGitFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if _, err := os.Lstat(p); err == nil {
			if err := os.RemoveAll(p); err != nil {
				return removed, err
			}
			removed = append(removed, name)
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Type().IsRegular() {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		removed = append(removed, filepath.ToSlash(rel))
		return nil
	})
	return removed, err
}

// ensureReadOnlyParts makes config a regular file, hooks an empty directory
// and info a directory, each owned by the runner; anything else in their
// place is replaced.
func (m *Manager) ensureReadOnlyParts(gitDir string) error {
	for _, part := range readOnlyGitParts {
		p := filepath.Join(gitDir, part.name)
		fi, err := os.Lstat(p)
		ok := err == nil && ((part.dir && fi.IsDir()) || (!part.dir && fi.Mode().IsRegular()))
		if err == nil && !ok {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("repair %s: %w", p, err)
			}
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", p, err)
		}
		if !ok {
			if part.dir {
				err = os.Mkdir(p, 0o755)
			} else {
				err = os.WriteFile(p, nil, 0o644)
			}
			if err != nil {
				return fmt.Errorf("create %s: %w", p, err)
			}
		}
		if err := m.rootOwned(p); err != nil {
			return err
		}
	}
	hooks := filepath.Join(gitDir, "hooks")
	if err := emptyDir(hooks); err != nil { // the runner writes no hook
		return fmt.Errorf("empty %s: %w", hooks, err)
	}
	return nil
}

func (m *Manager) rootOwnedIn(gitDir, name string) error {
	p := filepath.Join(gitDir, name)
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		return nil // secureGit repairs it before the next use
	}
	return m.rootOwned(p)
}

// rootOwned gives p to the runner (when it runs as root) and takes write
// access from others, so only the runner changes it, mounted or not.
func (m *Manager) rootOwned(p string) error {
	if m.owner != nil {
		if err := os.Lchown(p, os.Geteuid(), os.Getegid()); err != nil {
			return fmt.Errorf("own %s: %w", p, err)
		}
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	return os.Chmod(p, fi.Mode().Perm()&^0o022)
}

// writeGitConfig replaces the git dir's configuration with the runner's:
// not a bare repository, origin at url, fetching every branch. It is what a
// fresh clone has (without core.worktree, which go-git writes when the git
// dir is elsewhere) and what a migrated or repaired workspace gets instead
// of whatever the agent left.
func writeGitConfig(gitDir, url string, branch string) error {
	cfg := gitconfig.NewConfig()
	cfg.Core.IsBare = false
	cfg.Remotes[git.DefaultRemoteName] = &gitconfig.RemoteConfig{
		Name: git.DefaultRemoteName, URLs: []string{url},
		Fetch: []gitconfig.RefSpec{gitconfig.RefSpec("+refs/heads/*:refs/remotes/" + git.DefaultRemoteName + "/*")},
	}
	if branch != "" {
		cfg.Branches[branch] = &gitconfig.Branch{Name: branch, Remote: git.DefaultRemoteName, Merge: plumbing.NewBranchReferenceName(branch)}
	}
	b, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("git config: %w", err)
	}
	p := filepath.Join(gitDir, "config")
	tmp := p + ".runner-tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("git config: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("git config: %w", err)
	}
	return nil
}

// migrate moves the git dir of a workspace made before the git dir moved to
// the data dir (a real .git directory inside the checkout) to p.gitDir, and
// replaces its configuration and hooks with the runner's. A .git that is not
// a directory cannot be migrated: the error says what is wrong and how to
// recover.
func (m *Manager) migrate(p paths, rec *record) error {
	dot := filepath.Join(p.checkout, git.GitDirName)
	fi, err := os.Lstat(dot)
	if err != nil || !fi.IsDir() {
		what := "is missing"
		if err == nil {
			what = "is a " + fi.Mode().Type().String() + ", not a directory"
		}
		return withClass(errdefs.ErrFailedPrecondition, fmt.Errorf("the checkout's .git %s (an earlier turn replaced it) and the runner has "+
			"no other copy of the workspace's git state; delete the workspace (workspace.delete) to start over", what))
	}
	if _, err := os.Lstat(p.gitDir); err == nil {
		if err := os.RemoveAll(p.gitDir); err != nil { // a migration a crash interrupted after its copy
			return fmt.Errorf("migrate git dir: %w", err)
		}
	}
	if err := moveTree(dot, p.gitDir); err != nil {
		return fmt.Errorf("migrate git dir %s to %s: %w", dot, p.gitDir, err)
	}
	if _, err := sanitizeGitDir(p.gitDir); err != nil {
		return fmt.Errorf("migrate git dir: %w", err)
	}
	branch := ""
	if head, err := os.ReadFile(filepath.Join(p.gitDir, "HEAD")); err == nil {
		if b, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: refs/heads/"); ok && validateBranch("", b) == nil {
			branch = b
		}
	}
	if err := writeGitConfig(p.gitDir, rec.Repository.URL, branch); err != nil {
		return err
	}
	rec.GitDir = true
	if err := writeRecord(p.record, rec); err != nil {
		return err
	}
	m.log.Info("workspace git dir moved to the data dir", zap.String("workspace_id", rec.WorkspaceID), zap.String("git_dir", p.gitDir))
	return nil
}

// moveTree renames src to dst, or, across file systems, copies the
// directories and regular files (symlinks and special files are dropped) and
// removes src.
func moveTree(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	tmp := dst + ".copy"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(tmp, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(out, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return os.RemoveAll(src)
}

func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}
