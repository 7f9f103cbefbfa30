package workspace

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

func TestPrepareLocalLeavesTheSourceUntouched(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"README.md": "local\n", "src/app.py": "print('hi')\n"})
	repo.Branch("dev")
	dev := repo.Commit("dev work", map[string]string{"README.md": "dev\n"})
	repo.Switch(gittest.DefaultBranch)
	src := repo.WorkDir()
	writeFile(t, filepath.Join(src, "uncommitted.txt"), "not committed\n")
	before := fingerprint(t, src)

	h := newHarness(t, nil)
	ctx := context.Background()
	co, err := h.m.PrepareLocal(ctx, "ws-1", src, "")
	if err != nil {
		t.Fatalf("PrepareLocal: %v", err)
	}
	if !co.Fresh || co.Dir == src || strings.HasPrefix(co.Dir, src) {
		t.Errorf("checkout = %+v; want a fresh copy outside the source", co)
	}
	if got := readFile(t, filepath.Join(co.Dir, "README.md")); got != "local\n" {
		t.Errorf("README.md = %q", got)
	}
	if _, err := os.Stat(filepath.Join(co.Dir, "uncommitted.txt")); !os.IsNotExist(err) {
		t.Errorf("uncommitted file copied: %v", err)
	}
	if _, branch, commits := headOf(t, co); branch != gittest.DefaultBranch || commits != 1 {
		t.Errorf("HEAD on %q with %d commits; want a shallow main", branch, commits)
	}

	// The agent's work in the checkout never reaches the source.
	writeFile(t, filepath.Join(co.Dir, "README.md"), "changed by the agent\n")
	writeFile(t, filepath.Join(co.Dir, "agent.txt"), "new\n")
	again, err := h.m.PrepareLocal(ctx, "ws-1", src+"/", "dev")
	if err != nil || again.Fresh {
		t.Fatalf("second PrepareLocal = %+v, %v; want the existing checkout", again, err)
	}
	byRef, err := h.m.PrepareLocal(ctx, "ws-2", src, "dev")
	if err != nil {
		t.Fatalf("PrepareLocal at dev: %v", err)
	}
	if sha, _, _ := headOf(t, byRef); sha != dev {
		t.Errorf("HEAD = %s; want dev %s", sha, dev)
	}
	if after := fingerprint(t, src); after != before {
		t.Errorf("the source changed:\nbefore %s\nafter  %s", before, after)
	}

	// A workspace made from a URL is not a local one, and the reverse.
	other := t.TempDir()
	if _, err := h.m.PrepareLocal(ctx, "ws-1", other, ""); err == nil {
		t.Error("PrepareLocal with another path succeeded")
	} else {
		assertFieldError(t, err, "path")
	}
	if _, err := h.m.Prepare(ctx, "ws-1", Repository{URL: "https://example.com/x.git"}); err == nil {
		t.Error("Prepare with a URL on a local workspace succeeded")
	}
	if _, err := h.m.PrepareLocal(ctx, "ws-3", filepath.Join(other, "missing"), ""); err == nil {
		t.Error("PrepareLocal of a missing directory succeeded")
	}
	if _, err := h.m.PrepareLocal(ctx, "ws-3", other, ""); err == nil {
		t.Error("PrepareLocal of a directory that is not a repository succeeded")
	}
}

// fingerprint hashes every path, mode, size, mtime and content under root.
func fingerprint(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v %d %d\n", p, info.Mode(), info.Size(), info.ModTime().UnixNano())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
