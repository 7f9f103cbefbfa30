package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/containerd/errdefs"
)

func TestPrepareClonesAtRef(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ref         func(s *served) string
		allowSHA    bool
		wantCommit  func(s *served) string
		wantBranch  string
		wantReadme  string
		wantCommits int // 1: shallow
	}{
		"default branch": {
			ref: func(*served) string { return "" }, wantCommit: func(s *served) string { return s.second },
			wantBranch: "main", wantReadme: "second\n", wantCommits: 1,
		},
		"branch": {
			ref: func(*served) string { return "feature" }, wantCommit: func(s *served) string { return s.feature },
			wantBranch: "feature", wantReadme: "feature\n", wantCommits: 1,
		},
		"full branch ref": {
			ref: func(*served) string { return "refs/heads/feature" }, wantCommit: func(s *served) string { return s.feature },
			wantBranch: "feature", wantReadme: "feature\n", wantCommits: 1,
		},
		"lightweight tag": {
			ref: func(*served) string { return "light" }, wantCommit: func(s *served) string { return s.first },
			wantReadme: "first\n", wantCommits: 1,
		},
		"annotated tag": {
			ref: func(*served) string { return "v1" }, wantCommit: func(s *served) string { return s.first },
			wantReadme: "first\n", wantCommits: 1,
		},
		"commit at a branch tip": {
			ref: func(s *served) string { return s.second }, wantCommit: func(s *served) string { return s.second },
			wantReadme: "second\n", wantCommits: 1,
		},
		"commit by sha, server serves any reachable commit": {
			ref: func(s *served) string { return s.middle }, allowSHA: true, wantCommit: func(s *served) string { return s.middle },
			wantReadme: "middle\n", wantCommits: 1,
		},
		"commit by sha, server serves tips only": {
			ref: func(s *served) string { return s.middle }, wantCommit: func(s *served) string { return s.middle },
			wantReadme: "middle\n", wantCommits: 2,
		},
		"abbreviated commit": {
			ref: func(s *served) string { return s.middle[:10] }, allowSHA: true, wantCommit: func(s *served) string { return s.middle },
			wantReadme: "middle\n", wantCommits: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newServed(t)
			if tc.allowSHA {
				s.repo.SetConfig("uploadpack.allowReachableSHA1InWant", "true")
			}
			h := newHarness(t, nil)
			co, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url, Ref: tc.ref(s)})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if !co.Fresh || co.Dir != filepath.Join(h.cfg.WorkspaceDir, "ws-1") || co.Bytes <= 0 {
				t.Errorf("checkout = %+v; want fresh, in the workspace dir, with a size", co)
			}
			sha, branch, commits := headOf(t, co)
			if sha != tc.wantCommit(s) || co.Commit != sha || branch != tc.wantBranch || commits != tc.wantCommits {
				t.Errorf("HEAD = %s on %q with %d commits (reported %s); want %s on %q with %d",
					sha, branch, commits, co.Commit, tc.wantCommit(s), tc.wantBranch, tc.wantCommits)
			}
			if got := readFile(t, filepath.Join(co.Dir, "README.md")); got != tc.wantReadme {
				t.Errorf("README.md = %q; want %q", got, tc.wantReadme)
			}
			if got := readFile(t, filepath.Join(co.GitDir, "config")); !strings.Contains(got, "url = "+s.url+"\n") {
				t.Errorf(".git/config lacks the remote URL:\n%s", got)
			}
			if fi, err := os.Stat(co.AgentStateDir); err != nil || !fi.IsDir() ||
				co.AgentStateDir != filepath.Join(h.cfg.DataDir, "workspaces", "ws-1", "claude") {
				t.Errorf("agent state dir %s: %v", co.AgentStateDir, err)
			}
			if rec, err := readRecord(filepath.Join(h.cfg.DataDir, "workspaces", "ws-1", recordFile)); err != nil ||
				rec.Repository.URL != s.url || rec.Commit != sha || rec.Bytes != co.Bytes {
				t.Errorf("record = %+v, %v", rec, err)
			}
			assertOnlyWorkspaces(t, h, "ws-1")
		})
	}
}

func TestPrepareDefaultBranchIsTheServersHEAD(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	s.repo.SetDefaultBranch("feature")
	h := newHarness(t, nil)
	co, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if sha, branch, _ := headOf(t, co); sha != s.feature || branch != "feature" {
		t.Errorf("HEAD = %s on %q; want %s on feature", sha, branch, s.feature)
	}
}

func TestPrepareMissingRefFailsCleanly(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ref      string
		allowSHA bool
	}{
		"unknown branch":                     {ref: "no-such-branch"},
		"unknown commit":                     {ref: "0123456789abcdef0123456789abcdef01234567"},
		"unknown commit, server serves shas": {ref: "0123456789abcdef0123456789abcdef01234567", allowSHA: true},
		"unknown abbreviated commit":         {ref: "0123456789ab"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newServed(t)
			if tc.allowSHA {
				s.repo.SetConfig("uploadpack.allowReachableSHA1InWant", "true")
			}
			h := newHarness(t, nil)
			_, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url, Ref: tc.ref})
			if err == nil || !errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) {
				t.Fatalf("Prepare = %v; want a not-found checkout error", err)
			}
			if !strings.Contains(err.Error(), `ref "`+tc.ref+`" not found`) {
				t.Errorf("error %q does not name the ref", err)
			}
			assertOnlyWorkspaces(t, h)
		})
	}
}

func TestPrepareUnknownRepositoryFails(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	_, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.srv.URL + "/missing.git"})
	if err == nil || !errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) {
		t.Fatalf("Prepare = %v; want a not-found checkout error", err)
	}
	assertOnlyWorkspaces(t, h)
}

func TestSecondPrepareKeepsTheAgentsWork(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	repo := Repository{URL: s.url, Ref: "main"}
	first, err := h.m.Prepare(ctx, "ws-1", repo)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	// The agent edits a tracked file, adds one, deletes one; upstream moves on.
	writeFile(t, filepath.Join(first.Dir, "README.md"), "edited by the agent\n")
	writeFile(t, filepath.Join(first.Dir, "notes/new.txt"), "new\n")
	if err := os.Remove(filepath.Join(first.Dir, "docs", "guide.md")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(first.AgentStateDir, "session.jsonl"), "{}\n")
	s.repo.Commit("upstream", map[string]string{"README.md": "upstream\n"})
	requests := len(s.srv.Requests())

	second, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url, Ref: "feature"})
	if err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if second.Fresh || second.Dir != first.Dir || second.Commit != first.Commit || second.Bytes != first.Bytes {
		t.Errorf("second checkout = %+v; want the first one, not fresh", second)
	}
	if got := readFile(t, filepath.Join(second.Dir, "README.md")); got != "edited by the agent\n" {
		t.Errorf("README.md = %q; want the agent's edit", got)
	}
	if got := readFile(t, filepath.Join(second.Dir, "notes/new.txt")); got != "new\n" {
		t.Errorf("notes/new.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(second.Dir, "docs", "guide.md")); !os.IsNotExist(err) {
		t.Errorf("deleted file is back: %v", err)
	}
	if got := readFile(t, filepath.Join(second.AgentStateDir, "session.jsonl")); got != "{}\n" {
		t.Errorf("agent state lost: %q", got)
	}
	if sha, _, _ := headOf(t, second); sha != first.Commit {
		t.Errorf("HEAD moved to %s", sha)
	}
	if got := len(s.srv.Requests()); got != requests {
		t.Errorf("second Prepare made %d requests to the server; want none", got-requests)
	}
}

func TestPrepareRefusesAnotherRepository(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	other := gittest.NewRepo(t, map[string]string{"x": "x"})
	otherURL := gittest.Serve(t, other).RepoURL(other)
	h := newHarness(t, nil)
	ctx := context.Background()
	co, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	// The agent points origin elsewhere: the record, not .git/config, decides.
	cfgPath := filepath.Join(co.GitDir, "config")
	writeFile(t, cfgPath, strings.ReplaceAll(readFile(t, cfgPath), s.url, otherURL))

	_, err = h.m.Prepare(ctx, "ws-1", Repository{URL: otherURL})
	var fe *FieldError
	if !errdefs.IsInvalidArgument(err) || !asFieldError(err, &fe) || fe.Field != "repository.url" {
		t.Fatalf("Prepare with another URL = %v; want invalid repository.url", err)
	}
	for _, same := range []string{s.url, strings.TrimSuffix(s.url, ".git"), s.url + "/", strings.Replace(s.url, "http://", "HTTP://", 1)} {
		if _, err := h.m.Prepare(ctx, "ws-1", Repository{URL: same}); err != nil {
			t.Errorf("Prepare with %s: %v; want the recorded repository", same, err)
		}
	}
}

func TestPrepareRebuildsWhatIsMissingOrUnrecorded(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	co, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := os.RemoveAll(co.Dir); err != nil {
		t.Fatal(err)
	}
	again, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
	if err != nil || !again.Fresh {
		t.Fatalf("Prepare after the checkout vanished = %+v, %v; want a fresh clone", again, err)
	}

	// A directory without a record (a crash before the record) is replaced.
	stray := filepath.Join(h.cfg.WorkspaceDir, "ws-2")
	writeFile(t, filepath.Join(stray, "half-done"), "x")
	writeFile(t, filepath.Join(h.cfg.WorkspaceDir, tempPrefix+"ws-3-123", "partial"), "x")
	h2, err := New(Params{Config: h.cfg})
	if err != nil {
		t.Fatal(err)
	}
	co2, err := h2.Prepare(ctx, "ws-2", Repository{URL: s.url})
	if err != nil || !co2.Fresh {
		t.Fatalf("Prepare over an unrecorded dir = %+v, %v", co2, err)
	}
	if _, err := os.Stat(filepath.Join(stray, "half-done")); !os.IsNotExist(err) {
		t.Errorf("unrecorded content survived: %v", err)
	}
	assertOnlyWorkspaces(t, h, "ws-1", "ws-2")
}

func TestConcurrentPreparesCloneOnce(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	results := make(chan Checkout, 4)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			co, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url})
			results <- co
			errs <- err
		}()
	}
	fresh := 0
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("Prepare: %v", err)
		}
		if (<-results).Fresh {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d Prepares cloned; want exactly 1", fresh)
	}
}

// assertOnlyWorkspaces checks the workspace root holds exactly the named
// checkouts: no temporary clone directory, nothing from a failed clone.
func assertOnlyWorkspaces(t *testing.T, h *harness, ids ...string) {
	t.Helper()
	entries, err := os.ReadDir(h.cfg.WorkspaceDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != strings.Join(ids, ",") {
		t.Errorf("workspace root holds %v; want %v", names, ids)
	}
}

func TestPrepareCancelledLeavesNothing(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Prepare with a cancelled context = %v; want context.Canceled", err)
	}
	assertOnlyWorkspaces(t, h)
	if _, err := os.Stat(filepath.Join(h.cfg.DataDir, "workspaces", "ws-1", recordFile)); !os.IsNotExist(err) {
		t.Errorf("a record was written: %v", err)
	}
}
