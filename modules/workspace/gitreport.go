package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// Bounds of the line counting: a side bigger than maxDiffBytes counts as
// changed with no lines (as a binary file does), and one file's diff gets
// at most diffTimeout.
const (
	maxDiffBytes = 16 << 20
	diffTimeout  = 5 * time.Second
	binarySniff  = 8000 // git's heuristic: a NUL in the first 8000 bytes
)

// Report describes workspace id's checkout after a turn (CONTRACT section
// 6), with go-git only, after secureGit: the branch and HEAD, the base (the
// commit the workspace was checked out at, from the runner's record), dirty
// (uncommitted changes, .gitignore respected), and the change from base to
// the working tree: files, inserted and deleted lines, as
// `git add --all && git diff --cached --no-renames --shortstat base` would
// count them (committed and uncommitted changes, untracked files that are
// not ignored included; a binary file counts as changed with 0 lines). A
// symlink counts by its target text and is never followed. Pushed is left
// nil: the caller knows the turn's pushes.
func (m *Manager) Report(ctx context.Context, id string) (*GitReport, error) {
	p, rec, unlock, err := m.openWorkspace(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := openRepo(p)
	if err != nil {
		return nil, err
	}
	rep := &GitReport{Base: rec.Commit}
	var headTree *object.Tree
	if head, err := r.Head(); err == nil {
		rep.Head = head.Hash().String()
		if head.Name().IsBranch() {
			rep.Branch = head.Name().Short()
		}
		if c, err := r.CommitObject(head.Hash()); err == nil {
			headTree, _ = c.Tree()
		}
	}
	w, err := r.Worktree()
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", id, err)
	}
	st, err := w.Status()
	if err != nil {
		return nil, fmt.Errorf("workspace %s: status: %w", id, err)
	}
	rep.Dirty = !st.IsClean()

	base, err := r.CommitObject(plumbing.NewHash(rec.Commit))
	if err != nil {
		return nil, fmt.Errorf("workspace %s: base commit %s: %w", id, rec.Commit, err)
	}
	baseTree, err := base.Tree()
	if err != nil {
		return nil, fmt.Errorf("workspace %s: base tree: %w", id, err)
	}
	changed := map[string]bool{}
	if headTree != nil {
		changes, err := object.DiffTreeWithOptions(ctx, baseTree, headTree, nil)
		if err != nil {
			return nil, fmt.Errorf("workspace %s: diff base..HEAD: %w", id, err)
		}
		for _, c := range changes {
			changed[c.From.Name], changed[c.To.Name] = true, true
		}
	} else {
		// No HEAD commit to compare with: every base path may have changed.
		_ = baseTree.Files().ForEach(func(f *object.File) error { changed[f.Name] = true; return nil })
	}
	for name, s := range st {
		if s.Worktree != git.Unmodified || s.Staging != git.Unmodified {
			changed[name] = true
		}
	}
	delete(changed, "")
	names := make([]string, 0, len(changed))
	for n := range changed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		old, err := treeSide(baseTree, name)
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", id, err)
		}
		cur, err := worktreeSide(w.Filesystem, name)
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", id, err)
		}
		if old.equal(cur) {
			continue
		}
		rep.FilesChanged++
		if old.binary || cur.binary {
			continue
		}
		ins, del := countLines(old.text, cur.text)
		rep.Insertions += ins
		rep.Deletions += del
	}
	return rep, nil
}

// side is one side of a file's change: absent, or its content (a symlink's
// target text), or only that it is binary or too big to count lines.
type side struct {
	exists bool
	link   bool
	binary bool
	text   string
	hash   plumbing.Hash // set when binary: what equality compares
}

func (a side) equal(b side) bool {
	if a.exists != b.exists || a.link != b.link || a.binary != b.binary {
		return false
	}
	if a.binary {
		return a.hash == b.hash
	}
	return a.text == b.text
}

func newSide(content []byte, size int64, link bool) side {
	s := side{exists: true, link: link}
	if size > maxDiffBytes || bytes.IndexByte(content[:min(len(content), binarySniff)], 0) >= 0 {
		s.binary = true
		s.hash = plumbing.ComputeHash(plumbing.BlobObject, content)
		return s
	}
	s.text = string(content)
	return s
}

// treeSide is name in tree: a regular file or a symlink (a submodule or a
// directory counts as absent).
func treeSide(tree *object.Tree, name string) (side, error) {
	f, err := tree.File(name)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return side{}, nil
	}
	if err != nil {
		return side{}, fmt.Errorf("base %s: %w", name, err)
	}
	if f.Mode == filemode.Submodule || f.Mode == filemode.Dir {
		return side{}, nil
	}
	rd, err := f.Blob.Reader()
	if err != nil {
		return side{}, fmt.Errorf("base %s: %w", name, err)
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxDiffBytes+1))
	if err != nil {
		return side{}, fmt.Errorf("base %s: %w", name, err)
	}
	s := newSide(b, f.Size, f.Mode == filemode.Symlink)
	if s.binary && f.Size > maxDiffBytes {
		s.hash = f.Hash
	}
	return s, nil
}

// worktreeSide is name in the checkout, through the bound filesystem: every
// parent must be a real directory (a parent replaced by a symlink makes the
// path absent, as for git), a symlink is its target text, never followed.
func worktreeSide(wt billy.Filesystem, name string) (side, error) {
	dir := ""
	for _, part := range strings.Split(path.Dir(name), "/") {
		if part == "." {
			break
		}
		dir = path.Join(dir, part)
		fi, err := wt.Lstat(dir)
		if err != nil || !fi.IsDir() {
			return side{}, nil
		}
	}
	fi, err := wt.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return side{}, nil
	}
	if err != nil {
		return side{}, fmt.Errorf("worktree %s: %w", name, err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := wt.Readlink(name)
		if err != nil {
			return side{}, fmt.Errorf("worktree %s: %w", name, err)
		}
		return newSide([]byte(target), int64(len(target)), true), nil
	case fi.Mode().IsRegular():
		f, err := wt.Open(name)
		if err != nil {
			return side{}, fmt.Errorf("worktree %s: %w", name, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxDiffBytes+1))
		if err != nil {
			return side{}, fmt.Errorf("worktree %s: %w", name, err)
		}
		s := newSide(b, fi.Size(), false)
		if s.binary && fi.Size() > maxDiffBytes { // too big to hold: hash it as a blob, streaming
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return side{}, fmt.Errorf("worktree %s: %w", name, err)
			}
			h := plumbing.NewHasher(plumbing.BlobObject, fi.Size())
			if _, err := io.Copy(h, f); err != nil {
				return side{}, fmt.Errorf("worktree %s: %w", name, err)
			}
			s.hash = h.Sum()
		}
		return s, nil
	}
	return side{}, nil // a directory, a socket...: not a file git tracks
}

// countLines is the inserted and deleted lines from old to cur, as go-git's
// patch statistics count them.
func countLines(old, cur string) (ins, del int) {
	for _, d := range diff.DoWithTimeout(old, cur, diffTimeout) {
		n := strings.Count(d.Text, "\n")
		if d.Text != "" && !strings.HasSuffix(d.Text, "\n") {
			n++
		}
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			ins += n
		case diffmatchpatch.DiffDelete:
			del += n
		}
	}
	return ins, del
}
