package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
	"go.uber.org/zap"
)

// source is where a clone comes from: a validated URL (or, for exec, a local
// path), the ref asked for, and the credential for it, held in memory only.
type source struct {
	url   string
	ref   string
	local bool
	auth  transport.AuthMethod
}

func (s source) kind() string {
	if s.local {
		return "local"
	}
	return "remote"
}

// checkoutRef is the temporary ref a commit fetched by sha lands on; it is
// removed once HEAD is detached at the commit.
const checkoutRef = plumbing.ReferenceName("refs/claudette/checkout")

// clone makes a checkout of src in dir (an empty directory) and returns the
// commit checked out. Branches and the default branch are shallow
// single-branch clones with a local tracking branch; tags, other full ref
// names and commits are shallow fetches checked out on a detached HEAD. A
// commit the server will not serve by sha, or given as an abbreviated sha,
// costs a full clone.
func (m *Manager) clone(ctx context.Context, dir layout, src source) (string, error) {
	refs, err := listRefs(ctx, src)
	if err != nil {
		return "", fmt.Errorf("list refs of %s: %w", src.url, classifyGit(err))
	}
	t, err := resolveTarget(refs, src.ref)
	if err != nil {
		return "", withClass(errdefs.ErrNotFound, fmt.Errorf("ref %q not found in %s", src.ref, src.url))
	}
	switch {
	case t.branch:
		return cloneBranch(ctx, dir, src, t.name)
	case t.name != "":
		commit, err := fetchDetached(ctx, dir, src, gitconfig.RefSpec("+"+t.name+":"+t.name), t.name)
		if err != nil || t.commit == "" || commit == t.commit {
			return commit, err
		}
		// The ref moved between listing and fetching: fetch the commit itself.
		if err := dir.empty(); err != nil {
			return "", err
		}
	}
	if len(t.commit) == 40 {
		commit, err := fetchDetached(ctx, dir, src, gitconfig.RefSpec(t.commit+":"+checkoutRef.String()), checkoutRef)
		if err == nil || ctx.Err() != nil {
			return commit, err
		}
		// The server does not serve commits by sha, or not this one: only a
		// full clone can tell whether the commit exists.
		m.log.Debug("fetch by sha failed; cloning in full", zap.String("repository", src.url), zap.Error(err))
		if err := dir.empty(); err != nil {
			return "", err
		}
	}
	return cloneFullAt(ctx, dir, src, t.commit)
}

// target is what a ref resolved to against the refs the server advertises.
type target struct {
	name   plumbing.ReferenceName // the ref to fetch ("" when only a commit is known)
	branch bool                   // clone name as a branch (or the default branch, plumbing.HEAD)
	commit string                 // the sha asked for, when the ref is a commit
}

// resolveTarget matches ref, in git's order, against the advertised refs:
// empty (the default branch), a full ref name, a branch, a tag, then a commit
// sha (full or abbreviated, at least 7 hex digits). A full sha that is the tip
// of an advertised ref is fetched through that ref, which any server allows.
func resolveTarget(refs []*plumbing.Reference, ref string) (target, error) {
	if ref == "" {
		return target{name: plumbing.HEAD, branch: true}, nil
	}
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	for _, name := range []plumbing.ReferenceName{
		plumbing.ReferenceName(ref), plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref),
	} {
		if _, ok := byName[name]; ok && strings.HasPrefix(name.String(), "refs/") {
			return target{name: name, branch: name.IsBranch()}, nil
		}
	}
	if !isHex(ref) || len(ref) < 7 || len(ref) > 40 {
		return target{}, errdefs.ErrNotFound
	}
	sha := strings.ToLower(ref)
	if len(sha) == 40 {
		var tip plumbing.ReferenceName
		for _, r := range refs {
			name := plumbing.ReferenceName(strings.TrimSuffix(r.Name().String(), "^{}"))
			if r.Type() == plumbing.HashReference && r.Hash().String() == sha && strings.HasPrefix(name.String(), "refs/") &&
				(tip == "" || name.IsBranch()) {
				tip = name
			}
		}
		if tip != "" {
			return target{name: tip, commit: sha}, nil
		}
	}
	return target{commit: sha}, nil
}

func listRefs(ctx context.Context, src source) ([]*plumbing.Reference, error) {
	remote := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{src.url}})
	return remote.ListContext(ctx, &git.ListOptions{Auth: src.auth, PeelingOption: git.AppendPeeled})
}

// cloneBranch is a shallow single-branch clone of a branch (or of HEAD, the
// default branch), leaving that branch checked out and tracking origin.
func cloneBranch(ctx context.Context, dir layout, src source, name plumbing.ReferenceName) (string, error) {
	st, wt := openStorage(dir)
	r, err := git.CloneContext(ctx, st, wt, &git.CloneOptions{
		URL:           src.url,
		Auth:          src.auth,
		ReferenceName: name,
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
	})
	if err != nil {
		return "", fmt.Errorf("clone %s at %s: %w", src.url, name.Short(), classifyGit(err))
	}
	head, err := r.Head()
	if err != nil {
		return "", fmt.Errorf("clone %s: read HEAD: %w", src.url, err)
	}
	return head.Hash().String(), nil
}

// fetchDetached fetches one refspec at depth 1 into a new repository and
// checks out the commit that dst (the refspec's destination) peels to, on a
// detached HEAD.
func fetchDetached(ctx context.Context, dir layout, src source, spec gitconfig.RefSpec, dst plumbing.ReferenceName) (string, error) {
	st, wt := openStorage(dir)
	r, err := git.Init(st, wt)
	if err != nil {
		return "", fmt.Errorf("init checkout: %w", err)
	}
	if _, err := r.CreateRemote(&gitconfig.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{src.url}}); err != nil {
		return "", fmt.Errorf("init checkout: %w", err)
	}
	err = r.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RefSpecs:   []gitconfig.RefSpec{spec},
		Depth:      1,
		Auth:       src.auth,
		Tags:       git.NoTags,
	})
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", spec.Src(), src.url, classifyGit(err))
	}
	ref, err := r.Reference(dst, true)
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", spec.Src(), src.url, withClass(errdefs.ErrNotFound, err))
	}
	hash, err := peelToCommit(r, ref.Hash())
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", spec.Src(), src.url, err)
	}
	if err := checkoutDetached(r, hash); err != nil {
		return "", err
	}
	if dst == checkoutRef {
		if err := r.Storer.RemoveReference(dst); err != nil {
			return "", fmt.Errorf("checkout %s: %w", hash, err)
		}
	}
	return hash.String(), nil
}

// cloneFullAt clones every branch and tag, then checks out rev (a sha or a
// sha prefix) on a detached HEAD.
func cloneFullAt(ctx context.Context, dir layout, src source, rev string) (string, error) {
	st, wt := openStorage(dir)
	r, err := git.CloneContext(ctx, st, wt, &git.CloneOptions{
		URL:        src.url,
		Auth:       src.auth,
		NoCheckout: true,
		Tags:       git.AllTags,
	})
	if err != nil {
		return "", fmt.Errorf("clone %s: %w", src.url, classifyGit(err))
	}
	h, err := r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return "", withClass(errdefs.ErrNotFound, fmt.Errorf("ref %q not found in %s", rev, src.url))
	}
	hash, err := peelToCommit(r, *h)
	if err != nil {
		return "", fmt.Errorf("ref %q in %s: %w", rev, src.url, err)
	}
	if err := checkoutDetached(r, hash); err != nil {
		return "", err
	}
	return hash.String(), nil
}

func peelToCommit(r *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		tag, err := r.TagObject(h)
		if err != nil {
			break
		}
		h = tag.Target
	}
	c, err := r.CommitObject(h)
	if err != nil {
		return plumbing.ZeroHash, withClass(errdefs.ErrNotFound, fmt.Errorf("%s is not a commit: %w", h, err))
	}
	return c.Hash, nil
}

func checkoutDetached(r *git.Repository, h plumbing.Hash) error {
	w, err := r.Worktree()
	if err != nil {
		return fmt.Errorf("checkout %s: %w", h, err)
	}
	if err := w.Checkout(&git.CheckoutOptions{Hash: h, Force: true}); err != nil {
		return fmt.Errorf("checkout %s: %w", h, err)
	}
	return nil
}

// layout is where a repository's two halves live: its git dir (in the data
// dir) and its worktree (the checkout).
type layout struct{ gitDir, worktree string }

func (l layout) empty() error {
	if err := emptyDir(l.gitDir); err != nil {
		return err
	}
	return emptyDir(l.worktree)
}

// openStorage is a repository whose git dir and worktree are bound
// filesystems: no path, symlink or not, resolves outside either; the git
// dir's files are replaced whole (atomicFS).
func openStorage(l layout) (storage.Storer, billy.Filesystem) {
	wt := osfs.New(l.worktree, osfs.WithBoundOS())
	dot := atomicFS{osfs.New(l.gitDir, osfs.WithBoundOS())}
	return filesystem.NewStorage(dot, cache.NewObjectLRUDefault()), wt
}

// openRepo opens a workspace's repository (after secureGit). An index that
// cannot be read (torn by a crash of an older runner, or written by the
// agent) is rebuilt from HEAD, the worktree untouched: a workspace is never
// bricked by its index.
func openRepo(p paths) (*git.Repository, error) {
	st, wt := openStorage(layout{gitDir: p.gitDir, worktree: p.checkout})
	r, err := git.Open(st, wt)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", p.gitDir, err)
	}
	if _, err := r.Storer.Index(); err != nil {
		if err := rebuildIndex(r, p); err != nil {
			return nil, fmt.Errorf("repository %s: the index cannot be read and cannot be rebuilt: %w", p.gitDir, err)
		}
	}
	return r, nil
}

// rebuildIndex replaces an unreadable index with HEAD's tree (a mixed
// reset: what was staged is unstaged, the worktree stays as it is).
func rebuildIndex(r *git.Repository, p paths) error {
	if err := os.Remove(filepath.Join(p.gitDir, "index")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, err := r.Head(); err != nil {
		return nil // no commit yet: an empty index is right
	}
	w, err := r.Worktree()
	if err != nil {
		return err
	}
	return w.Reset(&git.ResetOptions{Mode: git.MixedReset})
}

// finishLayout turns a fresh clone into the workspace layout: go-git wrote a
// ".git" file pointing at the git dir into the worktree and core.worktree
// into the config; the worktree gets the empty .git mount point instead and
// the git dir the runner's config.
func (m *Manager) finishLayout(l layout, src source) error {
	dot := filepath.Join(l.worktree, git.GitDirName)
	if err := os.RemoveAll(dot); err != nil {
		return err
	}
	if err := os.Mkdir(dot, 0o755); err != nil {
		return err
	}
	branch := ""
	if head, err := os.ReadFile(filepath.Join(l.gitDir, "HEAD")); err == nil {
		branch, _ = strings.CutPrefix(strings.TrimSpace(string(head)), "ref: refs/heads/")
		if branch == strings.TrimSpace(string(head)) {
			branch = ""
		}
	}
	return writeGitConfig(l.gitDir, src.url, branch)
}

// sweepGitTemp removes git dirs a crash left in a workspace's state dir.
func sweepGitTemp(state string) error {
	entries, err := os.ReadDir(state)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), gitTempPrefix) {
			if err := os.RemoveAll(filepath.Join(state, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// emptyDir removes everything inside dir, keeping dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}
