package workspace

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

func TestModuleWiring(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.DataDir, cfg.WorkspaceDir = t.TempDir(), t.TempDir()
	err := fx.ValidateApp(
		fx.Supply(cfg, zap.NewNop()),
		fx.Provide(func() prometheus.Registerer { return prometheus.NewRegistry() }),
		Module,
		fx.Invoke(func(*Manager) {}),
	)
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckoutSizeAndDurationAreMeasured(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	co, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	size, err := treeSize(context.Background(), co.Dir)
	gitSize, gerr := treeSize(context.Background(), co.GitDir)
	size += gitSize
	if err = errors.Join(err, gerr); err != nil || size != co.Bytes {
		t.Errorf("Bytes = %d; the tree holds %d (%v)", co.Bytes, size, err)
	}
	if _, err := h.m.Prepare(context.Background(), "ws-2", Repository{URL: s.url, Ref: "missing"}); err == nil {
		t.Fatal("Prepare of a missing ref succeeded")
	}
	if again, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url}); err != nil || again.Fresh {
		t.Fatalf("second Prepare: fresh %v, %v", again.Fresh, err)
	}

	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	var sum float64
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetHistogram().GetSampleCount()
			if f.GetName() == "claudette_workspace_checkout_bytes" {
				sum = m.GetHistogram().GetSampleSum()
			}
		}
	}
	want := map[string]uint64{
		"claudette_workspace_clone_duration_seconds result=ok source=remote":    1,
		"claudette_workspace_clone_duration_seconds result=error source=remote": 1,
		"claudette_workspace_checkout_bytes":                                    1,
		"claudette_workspace_prepare_duration_seconds checkout=fresh":           1,
		"claudette_workspace_prepare_duration_seconds checkout=existing":        1,
		"claudette_workspace_prepare_duration_seconds checkout=error":           1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s observed %d times; want %d (all: %v)", k, got[k], n, got)
		}
	}
	if sum != float64(co.Bytes) {
		t.Errorf("checkout_bytes sum = %v; want %d", sum, co.Bytes)
	}
	logged := h.logs.FilterMessage("checkout ready").All()
	if len(logged) != 1 || logged[0].ContextMap()["bytes"] != co.Bytes || logged[0].ContextMap()["workspace_id"] != "ws-1" {
		t.Errorf("checkout log = %v", logged)
	}
}

func TestCheckoutBelongsToTheSandboxUser(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, func(c *config.Config) { c.Sandbox.User = "1234:2345" })
	co, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	wantUID, wantGID := uint32(os.Geteuid()), uint32(os.Getegid())
	if os.Geteuid() == 0 {
		wantUID, wantGID = 1234, 2345 // a root runner hands the checkout to the sandbox user
	}
	for _, root := range []string{co.Dir, co.AgentStateDir} {
		err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != wantUID || st.Gid != wantGID {
				t.Errorf("%s owned by %d:%d; want %d:%d", p, st.Uid, st.Gid, wantUID, wantGID)
				return filepath.SkipAll
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The record and the state dir stay the runner's, unreadable to others.
	state := filepath.Join(h.cfg.DataDir, "workspaces", "ws-1")
	for _, p := range []string{state, filepath.Join(state, recordFile), filepath.Join(h.cfg.DataDir, "workspaces")} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uint32(os.Geteuid()) || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: owner %d mode %v; want the runner's, private", p, st.Uid, fi.Mode())
		}
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.DataDir, cfg.WorkspaceDir = t.TempDir(), t.TempDir()
	cfg.Git.Tokens = "no-equals-sign"
	if _, err := New(Params{Config: cfg}); err == nil {
		t.Error("New accepted malformed git tokens")
	}
	cfg.Git.Tokens = ""
	blocker := filepath.Join(t.TempDir(), "file")
	writeFile(t, blocker, "x")
	cfg.WorkspaceDir = filepath.Join(blocker, "sub")
	if _, err := New(Params{Config: cfg}); err == nil {
		t.Error("New accepted a workspace dir it cannot create")
	}
}
