package workspace

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type harness struct {
	m    *Manager
	cfg  *config.Config
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
}

func newHarness(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.WorkspaceDir = t.TempDir()
	cfg.Git.AllowHTTP = true
	if mutate != nil {
		mutate(cfg)
	}
	core, logs := observer.New(zap.DebugLevel)
	reg := prometheus.NewRegistry()
	m, err := New(Params{Config: cfg, Logger: zap.New(core), Registerer: reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{m: m, cfg: cfg, reg: reg, logs: logs}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// headOf opens a checkout with go-git: HEAD's sha, whether HEAD is a branch
// (and which), and how many commits the checkout holds.
func headOf(t *testing.T, co Checkout) (sha, branch string, commits int) {
	t.Helper()
	r := openCheckout(t, co)
	dir := co.Dir
	head, err := r.Head()
	if err != nil {
		t.Fatalf("HEAD of %s: %v", dir, err)
	}
	if head.Name().IsBranch() {
		branch = head.Name().Short()
	}
	iter, err := r.Log(&git.LogOptions{From: head.Hash()})
	if err != nil {
		t.Fatalf("log: %v", err)
	}
	for {
		if _, err := iter.Next(); err != nil {
			break
		}
		commits++
	}
	return head.Hash().String(), branch, commits
}

// filesContaining lists the files under root whose content holds needle.
func filesContaining(t *testing.T, root string, needle []byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return found
}

// served is a repository with history served over HTTP: main has commits
// first, middle (no ref points at it) and second; a lightweight tag light and
// an annotated tag v1 are on first; branch feature is one commit ahead of first.
type served struct {
	repo                           *gittest.Repo
	srv                            *gittest.Server
	url                            string
	first, middle, second, feature string
}

func newServed(t *testing.T) *served {
	t.Helper()
	repo := gittest.NewRepo(t, map[string]string{"README.md": "first\n", "src/main.go": "package main\n"})
	s := &served{repo: repo, first: repo.Head()}
	repo.Tag("light", false)
	repo.Tag("v1", true)
	repo.Branch("feature")
	s.feature = repo.Commit("feature work", map[string]string{"README.md": "feature\n"})
	repo.Switch(gittest.DefaultBranch)
	s.middle = repo.Commit("middle", map[string]string{"README.md": "middle\n"})
	s.second = repo.Commit("second", map[string]string{"README.md": "second\n", "docs/guide.md": "guide\n"})
	s.srv = gittest.Serve(t, repo)
	s.url = s.srv.RepoURL(repo)
	return s
}

func asFieldError(err error, target **FieldError) bool { return errors.As(err, target) }

// openCheckout opens a checkout's repository (git dir in the data dir,
// worktree in the checkout) with go-git, bound as the manager opens it.
func openCheckout(t *testing.T, co Checkout) *git.Repository {
	t.Helper()
	if co.GitDir == "" {
		t.Fatalf("checkout %s has no git dir", co.Dir)
	}
	st, wt := openStorage(layout{gitDir: co.GitDir, worktree: co.Dir})
	r, err := git.Open(st, wt)
	if err != nil {
		t.Fatalf("open %s: %v", co.GitDir, err)
	}
	return r
}

func plumbingHash(s string) plumbing.Hash { return plumbing.NewHash(s) }

// onBranch prepares workspace ws-1 from url and checks out the conversation
// branch claudette/c-1, as a turn does before its agent runs.
func (h *harness) onBranch(t *testing.T, url string) Checkout {
	t.Helper()
	ctx := context.Background()
	co, err := h.m.Prepare(ctx, "ws-1", Repository{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.m.CheckoutBranch(ctx, "ws-1", "claudette/c-1"); err != nil {
		t.Fatal(err)
	}
	return co
}
