package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestDeleteLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	co, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	keep, err := h.m.Prepare(ctx, "ws-2", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	writeFile(t, filepath.Join(co.Dir, "deep/er/file.txt"), "agent output")
	writeFile(t, filepath.Join(co.AgentStateDir, "projects/x/session.jsonl"), "{}")
	if err := os.Symlink("/etc", filepath.Join(co.Dir, "etc-link")); err != nil {
		t.Fatal(err)
	}
	// A read-only directory inside the checkout, as an agent may leave.
	ro := filepath.Join(co.Dir, "readonly")
	writeFile(t, filepath.Join(ro, "f"), "x")
	if err := os.Chmod(ro, 0o500); err != nil {
		t.Fatal(err)
	}

	if err := h.m.Delete(ctx, "ws-1", nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, p := range []string{co.Dir, co.AgentStateDir, filepath.Join(h.cfg.DataDir, "workspaces", "ws-1")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists: %v", p, err)
		}
	}
	if _, err := os.Stat("/etc/hostname"); err != nil {
		t.Errorf("a symlink target outside the checkout was touched: %v", err)
	}
	assertOnlyWorkspaces(t, h, "ws-2")
	if entries, _ := os.ReadDir(filepath.Join(h.cfg.DataDir, "workspaces")); len(entries) != 1 || entries[0].Name() != "ws-2" {
		t.Errorf("workspace state dir holds %v; want only ws-2", entries)
	}
	if _, err := os.Stat(filepath.Join(keep.Dir, "README.md")); err != nil {
		t.Errorf("the other workspace was touched: %v", err)
	}

	// Deleting again, or a workspace never made, is fine; the id can be reused.
	if err := h.m.Delete(ctx, "ws-1", nil); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	again, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url, Ref: "feature"})
	if err != nil || !again.Fresh {
		t.Errorf("Prepare after Delete = %+v, %v; want a fresh clone", again, err)
	}
}

// recordingRemover deletes what the runner could not, the way the sandbox
// engine's remover does for files owned by the sandbox user; here the
// obstacle is the immutable attribute, which even root's os.RemoveAll
// cannot pass.
type recordingRemover struct{ paths []string }

func (r *recordingRemover) RemoveTree(_ context.Context, path string) error {
	r.paths = append(r.paths, path)
	if out, err := exec.Command("chattr", "-R", "-i", path).CombinedOutput(); err != nil {
		return &os.PathError{Op: "chattr", Path: path, Err: os.ErrPermission}
	} else if len(out) > 0 {
		return os.ErrInvalid
	}
	return os.RemoveAll(path)
}

func TestDeleteFallsBackToTheRemover(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	co, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	stuck := filepath.Join(co.Dir, "stuck.txt")
	writeFile(t, stuck, "cannot delete me")
	if out, err := exec.Command("chattr", "+i", stuck).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i (needs root and ext4/xfs/btrfs): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", stuck).Run() })

	if err := h.m.Delete(ctx, "ws-1", nil); err == nil {
		t.Fatal("Delete without a remover succeeded on an undeletable file")
	}
	rm := &recordingRemover{}
	if err := h.m.Delete(ctx, "ws-1", rm); err != nil {
		t.Fatalf("Delete with the remover: %v", err)
	}
	if len(rm.paths) != 1 || rm.paths[0] != co.Dir {
		t.Errorf("remover called for %v; want only the checkout %s", rm.paths, co.Dir)
	}
	assertOnlyWorkspaces(t, h)
	if _, err := os.Lstat(filepath.Join(h.cfg.DataDir, "workspaces", "ws-1")); !os.IsNotExist(err) {
		t.Errorf("workspace state still exists: %v", err)
	}
}
