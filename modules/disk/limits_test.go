package disk

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/loopfs"

	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"
)

// fill writes zeros to path until n bytes are written or a write fails, and
// returns the error that stopped it (nil when all were written).
func fill(path string, n int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for written := int64(0); written < n; written += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isDiskFull(err error) bool { return errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.ENOSPC) }

// makeCheckout does what modules/workspace does: a clone dir made by Limits,
// renamed into place.
func makeCheckout(t *testing.T, l *Limits, root, id string) string {
	t.Helper()
	tmp := filepath.Join(root, ".clone-"+id+"-1")
	if err := l.MakeCheckoutDir(id, tmp); err != nil {
		t.Fatalf("make checkout dir: %v", err)
	}
	dir := filepath.Join(root, id)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBtrfsSubvolumeLimit(t *testing.T) {
	mnt := loopfs.Mount(t, "btrfs", 512<<20).Dir
	root := filepath.Join(mnt, "workspaces")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	l := NewLimits(Settings{Limit: 64 << 20, WorkspaceRoot: root, StateRoot: t.TempDir()}, zaptest.NewLogger(t))
	if l.plan.Mode != ModeBtrfs {
		t.Fatalf("plan %v, want btrfs", l.plan)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if l.plan.Mode != ModeBtrfs {
		t.Fatalf("after start: %v", l.plan)
	}
	full, other := makeCheckout(t, l, root, "ws-full"), makeCheckout(t, l, root, "ws-other")
	for _, id := range []string{"ws-full", "ws-other"} {
		if mode, err := l.Apply(id, filepath.Join(root, id)); err != nil || mode != ModeBtrfs {
			t.Fatalf("apply %s: %s %v", id, mode, err)
		}
	}
	if _, ok, err := btrfsSubvolumeID(full); err != nil || !ok {
		t.Fatalf("checkout is not a subvolume: %v", err)
	}
	var before unix.Statfs_t
	unix.Statfs(mnt, &before)

	err := fill(filepath.Join(full, "big"), 200<<20)
	if !isDiskFull(err) {
		t.Fatalf("writing 200 MiB into a workspace limited to 64 MiB: %v, want EDQUOT or ENOSPC", err)
	}
	t.Logf("write past the limit: %v", err)
	// The other workspace on the same file system is not affected.
	if err := fill(filepath.Join(other, "data"), 32<<20); err != nil {
		t.Fatalf("the other workspace cannot write: %v", err)
	}
	var after unix.Statfs_t
	unix.Statfs(mnt, &after)
	if used := (int64(before.Bavail) - int64(after.Bavail)) * after.Bsize; used > 140<<20 {
		t.Errorf("the file system lost %d bytes for 64+32 MiB of limited writes", used)
	}

	if err := l.Release("ws-full"); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := os.Lstat(full); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("subvolume still there after release: %v", err)
	}
	// Releasing twice, or a workspace that never was, is not an error.
	if err := l.Release("ws-full"); err != nil {
		t.Fatal(err)
	}
}

func TestProjectQuotaLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop-mounting a file system needs root")
	}
	if ok, why := kernelHasQuota(); !ok {
		t.Skip("this kernel has no quota support (" + why + "): project quotas cannot be tested here")
	}
	mnt := loopfs.Mount(t, "ext4-prjquota", 256<<20, "prjquota").Dir
	root := filepath.Join(mnt, "workspaces")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	l := NewLimits(Settings{Limit: 32 << 20, WorkspaceRoot: root, StateRoot: t.TempDir()}, zaptest.NewLogger(t))
	if l.plan.Mode != ModeProject {
		t.Fatalf("plan %v, want project quota", l.plan)
	}
	dir := makeCheckout(t, l, root, "ws-p")
	if mode, err := l.Apply("ws-p", dir); err != nil || mode != ModeProject {
		t.Fatalf("apply: %s %v", mode, err)
	}
	if err := fill(filepath.Join(dir, "big"), 100<<20); !isDiskFull(err) {
		t.Fatalf("writing 100 MiB into a workspace limited to 32 MiB: %v, want EDQUOT", err)
	}
	if err := l.Release("ws-p"); err != nil {
		t.Fatal(err)
	}
}

// kernelHasQuota reads the kernel's configuration (or, without it, its
// symbols) for CONFIG_QUOTA.
func kernelHasQuota() (bool, string) {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			if cfg, err := io.ReadAll(zr); err == nil {
				// ext4 keeps its quota files in the v2 format.
				if bytes.Contains(cfg, []byte("\nCONFIG_QUOTA=y")) && bytes.Contains(cfg, []byte("\nCONFIG_QFMT_V2=y")) {
					return true, ""
				}
				return false, "/proc/config.gz: ext4 quotas need CONFIG_QUOTA and CONFIG_QFMT_V2, XFS ones CONFIG_XFS_QUOTA"
			}
		}
	}
	syms, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		return false, "neither /proc/config.gz nor /proc/kallsyms can be read"
	}
	if bytes.Contains(syms, []byte(" dquot_transfer")) && bytes.Contains(syms, []byte(" v2_read_file_info")) {
		return true, ""
	}
	return false, "no dquot_transfer or v2_read_file_info in /proc/kallsyms"
}
