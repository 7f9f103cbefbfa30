package disk

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// walkUse is the reference: every entry under dir once, allocated blocks,
// inodes once, symlinks not followed.
func walkUse(t *testing.T, dir string) int64 {
	t.Helper()
	seen := map[uint64]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !seen[st.Ino] {
			seen[st.Ino] = true
			total += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func write(t *testing.T, p string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestTreeFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(outside, "big"), 4<<20)
	write(t, filepath.Join(dir, "a/b/c/file"), 100<<10)
	write(t, filepath.Join(dir, "top"), 10<<10)

	in, err := newInotify()
	if err != nil {
		t.Fatal(err)
	}
	defer in.close()
	tr, err := newTree(dir, in)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	check := func(step string) {
		t.Helper()
		in.drain()
		tr.refresh()
		if want := walkUse(t, dir); tr.used != want {
			t.Fatalf("%s: tree says %d bytes, a walk %d", step, tr.used, want)
		}
	}
	check("first scan")

	steps := map[string]func(){}
	order := []string{"append to an existing file", "new deep dir", "hard link", "symlink out", "rename dir", "remove dir", "truncate", "sparse"}
	steps["append to an existing file"] = func() { write(t, filepath.Join(dir, "a/b/c/file"), 1<<20) }
	steps["new deep dir"] = func() { write(t, filepath.Join(dir, "x/y/z/new"), 300<<10) }
	steps["hard link"] = func() {
		if err := os.Link(filepath.Join(dir, "x/y/z/new"), filepath.Join(dir, "a/link")); err != nil {
			t.Fatal(err)
		}
	}
	steps["symlink out"] = func() {
		if err := os.Symlink(outside, filepath.Join(dir, "a/b/out")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(outside, "big"), filepath.Join(dir, "bigfile")); err != nil {
			t.Fatal(err)
		}
	}
	steps["rename dir"] = func() {
		if err := os.Rename(filepath.Join(dir, "x/y"), filepath.Join(dir, "a/moved")); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "a/moved/z/more"), 50<<10)
	}
	steps["remove dir"] = func() {
		if err := os.RemoveAll(filepath.Join(dir, "a/b")); err != nil {
			t.Fatal(err)
		}
	}
	steps["truncate"] = func() {
		if err := os.Truncate(filepath.Join(dir, "top"), 0); err != nil {
			t.Fatal(err)
		}
	}
	steps["sparse"] = func() {
		p := filepath.Join(dir, "holes")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 64<<20); err != nil {
			t.Fatal(err)
		}
		check("sparse file made")
		// Fill part of the hole without a size change: only the sparse re-check sees it.
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(make([]byte, 1<<20), 8<<20); err != nil {
			t.Fatal(err)
		}
		f.Sync()
		f.Close()
	}
	for _, name := range order {
		steps[name]()
		check(name)
	}
	if tr.used >= 4<<20+64<<20 {
		t.Fatalf("the tree counted what symlinks point to or the sparse file's size: %d", tr.used)
	}
}
