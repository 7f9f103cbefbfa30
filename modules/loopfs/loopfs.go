// Package loopfs makes, for tests, a small file system on a loop device: an
// ext4 a test can fill to its last byte and free again (the data dir of the
// full-disk tests), a btrfs or an ext4 with project quotas (the disk-limit
// tests). It needs root and the e2fsprogs, btrfs-progs and util-linux tools
// (`make deps`); where the machine cannot loop-mount, it skips the test and
// says why. Everything it makes (mount, loop device, image) is removed at
// the test's cleanup, also when the test fails.
package loopfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// FS is one mounted ext4 image.
type FS struct {
	// Dir is the mount point.
	Dir    string
	filler string
}

// New makes an ext4 image of size bytes (no blocks reserved for root, so
// "full" means full for the runner too), loop-mounts it and returns it.
func New(t testing.TB, size int64) *FS { t.Helper(); return Mount(t, "ext4", size) }

// mkfs is how each kind of file system is made from an image.
var mkfs = map[string][]string{
	"ext4":          {"mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0"},
	"ext4-prjquota": {"mkfs.ext4", "-q", "-F", "-m", "0", "-O", "quota,project"},
	"btrfs":         {"mkfs.btrfs", "-q"},
}

// Mount makes a file system of kind ("ext4", "ext4-prjquota" or "btrfs") in
// an image of size bytes and loop-mounts it with mountOpts.
func Mount(t testing.TB, kind string, size int64, mountOpts ...string) *FS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loopfs: loop-mounting a file system needs root")
	}
	mk, ok := mkfs[kind]
	if !ok {
		t.Fatalf("loopfs: no file system kind %q", kind)
	}
	for _, tool := range []string{mk[0], "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("loopfs: %s not found (make deps installs e2fsprogs, btrfs-progs and util-linux): %v", tool, err)
		}
	}
	base := t.TempDir()
	img := filepath.Join(base, "fs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(mk[0], append(mk[1:], img)...).CombinedOutput(); err != nil {
		t.Fatalf("loopfs: %s: %v: %s", mk[0], err, out)
	}
	dir := filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", strings.Join(append([]string{"loop"}, mountOpts...), ","), img, dir).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "loop") || strings.Contains(string(out), "permission") {
			t.Skipf("loopfs: this machine cannot loop-mount (%s)", strings.TrimSpace(string(out)))
		}
		t.Fatalf("loopfs: mount: %v: %s", err, out)
	}
	// Registered after TempDir's, so it runs first: unmount, then remove.
	// umount -d frees the loop device mount -o loop took.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-d", dir).CombinedOutput(); err != nil {
			// A process of the test may still hold a file: detach lazily.
			if out2, err2 := exec.Command("umount", "-l", "-d", dir).CombinedOutput(); err2 != nil {
				t.Errorf("loopfs: umount %s: %v: %s / %s", dir, err, out, out2)
			}
		}
	})
	return &FS{Dir: dir, filler: filepath.Join(dir, "filler")}
}

// Free is the bytes an unprivileged write could still take.
func (fs *FS) Free(t testing.TB) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(fs.Dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// Fill writes a filler file until the file system refuses the next byte
// (ENOSPC), so that every later write that needs a new block fails.
func (fs *FS) Fill(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(fs.filler, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("loopfs: create filler: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for chunk := len(buf); chunk > 0; chunk /= 2 {
		for {
			if _, err := f.Write(buf[:chunk]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("loopfs: fill: %v", err)
				}
				break
			}
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("loopfs: sync filler: %v", err)
	}
}

// Release removes the filler: the space is back.
func (fs *FS) Release(t testing.TB) {
	t.Helper()
	if err := os.Remove(fs.filler); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("loopfs: remove filler: %v", err)
	}
}

// String names the mount for messages.
func (fs *FS) String() string { return fmt.Sprintf("loopfs %s", fs.Dir) }
