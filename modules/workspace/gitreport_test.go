package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The report counts the change from the workspace's commit to the working
// tree: committed and uncommitted, untracked files included, a binary file
// with no lines, a symlink by its target text (never followed).
func TestReportCountsTheChangeFromBase(t *testing.T) {
	t.Parallel()
	s := newServed(t) // main: README.md "second\n", docs/guide.md "guide\n", src/main.go "package main\n"
	h := newHarness(t, nil)
	ctx := context.Background()
	co := h.onBranch(t, s.url)
	clean, err := h.m.Report(ctx, "ws-1")
	if err != nil {
		t.Fatal(err)
	}
	if *clean != (GitReport{Branch: "claudette/c-1", Head: s.second, Base: s.second}) {
		t.Fatalf("report of an untouched checkout = %+v", clean)
	}

	// Committed: README.md one line replaced and one added (+2 -1), a
	// .gitignore (+1).
	agentCommit(t, co, "edit readme", map[string]string{"README.md": "second, edited\nmore\n", ".gitignore": "*.log\n"})
	// Uncommitted: a new file of 3 lines (+3), a deletion (-1), a binary file
	// (+0), a symlink to a big file outside the checkout (+1: its target).
	writeFile(t, filepath.Join(co.Dir, "new.txt"), "one\ntwo\nthree\n")
	if err := os.Remove(filepath.Join(co.Dir, "docs", "guide.md")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(co.Dir, "bin.dat"), "\x00\x01\x02\nbinary\n")
	outside := filepath.Join(t.TempDir(), "secret.txt")
	writeFile(t, outside, strings.Repeat("secret\n", 100))
	if err := os.Symlink(outside, filepath.Join(co.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	// Ignored files do not count.
	writeFile(t, filepath.Join(co.Dir, "debug.log"), "x\ny\n")

	rep, err := h.m.Report(ctx, "ws-1")
	if err != nil {
		t.Fatal(err)
	}
	sha, _, _ := headOf(t, co)
	want := GitReport{Branch: "claudette/c-1", Head: sha, Base: s.second, Dirty: true,
		FilesChanged: 6, Insertions: 2 + 3 + 1 + 1, Deletions: 1 + 1}
	if *rep != want {
		t.Fatalf("report = %+v\nwant     %+v", *rep, want)
	}
}
