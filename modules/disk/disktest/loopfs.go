package disktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// LoopFS makes a file system of kind (mkfs.<kind>) in an image of size bytes,
// loop-mounts it and returns the mount point; everything is undone in
// t.Cleanup, also when the test fails. Skips only where the machine cannot
// loop-mount (not root).
func LoopFS(t *testing.T, kind string, size int64, mountOpts ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop-mounting a file system needs root")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, kind+".img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	mkfs := map[string][]string{"btrfs": {"mkfs.btrfs", "-q", img}, "ext4": {"mkfs.ext4", "-q", "-F", img},
		"ext4-prjquota": {"mkfs.ext4", "-q", "-F", "-O", "quota,project", img}}[kind]
	if out, err := exec.Command(mkfs[0], mkfs[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s (make deps installs it): %v: %s", mkfs[0], err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	args := []string{dev, mnt}
	if len(mountOpts) > 0 {
		args = append([]string{"-o", strings.Join(mountOpts, ",")}, args...)
	}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v: %s", dev, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			// A lazy unmount still frees the loop device once nothing holds it.
			t.Errorf("umount %s: %v: %s", mnt, err, out)
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}
