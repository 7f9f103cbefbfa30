package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
)

// A file created through atomicFS is not there until it is closed, then it
// is there whole; go-git is told it cannot rewrite files in place.
func TestAtomicFSReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	fs := atomicFS{osfs.New(dir, osfs.WithBoundOS())}
	if billy.CapabilityCheck(fs, billy.ReadAndWriteCapability) {
		t.Error("atomicFS offers read-and-write: go-git would truncate refs in place")
	}
	writeFile(t, filepath.Join(dir, "refs", "heads", "b"), "old\n")
	f, err := fs.Create("refs/heads/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "refs", "heads", "b")); string(b) != "old\n" {
		t.Fatalf("before Close the file is %q, want the old one", b)
	}
	if f.Name() != "refs/heads/b" {
		t.Errorf("Name() = %q", f.Name())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "refs", "heads", "b")); string(b) != "new" {
		t.Fatalf("after Close the file is %q", b)
	}
	g, err := fs.Create("index")
	if err != nil {
		t.Fatal(err)
	}
	g.(*atomicFile).failed = errors.New("disk full")
	if err := g.Close(); err == nil {
		t.Error("Close after a failed write succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after a failed write the dir holds %v, want refs only", entries)
	}
}
