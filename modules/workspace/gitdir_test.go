package workspace

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/containerd/errdefs"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// personGit runs the git CLI as a person on the host would over a
// workspace (its git dir and worktree), for the tests to show what a
// planted configuration would make it run. The runner itself never does.
func personGit(t *testing.T, co Checkout, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = co.Dir
	cmd.Env = append(gittest.GitEnv(), "GIT_DIR="+co.GitDir, "GIT_WORK_TREE="+co.Dir)
	_ = cmd.Run() // only its side effects matter
}

// snapshot is every path under dir with its content (symlinks by target).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[p] = "-> " + target
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		default:
			out[p] = fi.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s changed: %d entries, then %d", what, len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed at %s", what, k)
		}
	}
}

// What an agent can write in the git dir that git would read as
// configuration or a redirection is removed before the runner touches the
// repository, and neither the runner nor a person's git on the host then
// runs what it planted or reaches outside.
func TestPlantedGitConfigNeverRuns(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	co := h.onBranch(t, s.url)

	outside := t.TempDir()
	marker := filepath.Join(outside, "ran")
	script := filepath.Join(outside, "hook.sh")
	writeFile(t, script, "#!/bin/sh\ntouch "+marker+"\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	// A common dir of the agent's choosing: a copy of the git dir whose
	// config runs the script as fsmonitor and hooks.
	evil := filepath.Join(outside, "common")
	if err := exec.Command("cp", "-a", co.GitDir, evil).Run(); err != nil {
		t.Fatal(err)
	}
	evilCfg := readFile(t, filepath.Join(evil, "config")) +
		"[core]\n\tfsmonitor = " + script + "\n\thooksPath = " + outside + "\n[extensions]\n\tworktreeConfig = true\n"
	writeFile(t, filepath.Join(evil, "config"), evilCfg)
	for _, hook := range []string{"post-commit", "pre-commit", "post-checkout", "reference-transaction"} {
		if err := os.Symlink(script, filepath.Join(outside, hook)); err != nil {
			t.Fatal(err)
		}
	}
	plant := func() {
		writeFile(t, filepath.Join(co.GitDir, "commondir"), evil+"\n")
		writeFile(t, filepath.Join(co.GitDir, "config.worktree"), "[core]\n\tfsmonitor = "+script+"\n")
		writeFile(t, filepath.Join(co.GitDir, "info", "attributes"), "* filter=evil\n")
		writeFile(t, filepath.Join(co.GitDir, "objects", "info", "alternates"), filepath.Join(evil, "objects")+"\n")
		_ = os.Symlink(filepath.Join(outside, "post-commit"), filepath.Join(co.GitDir, "hooks", "post-commit"))
		_ = os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(co.GitDir, "refs", "heads", "stolen"))
	}
	plant()
	// The plant works: a person's `git status` runs the script.
	personGit(t, co, "status")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the planted fsmonitor did not run under the git CLI (%v): the test would prove nothing", err)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, outside)

	writeFile(t, filepath.Join(co.Dir, "change.txt"), "change\n")
	if _, err := h.m.Report(ctx, "ws-1"); err != nil {
		t.Fatalf("Report: %v", err)
	}
	plant()
	if sha, err := h.m.Commit(ctx, "ws-1", "claudette/c-1", CommitMessage); err != nil || sha == "" {
		t.Fatalf("Commit: %q, %v", sha, err)
	}
	plant()
	if _, err := h.m.Push(ctx, "ws-1", "claudette/c-1"); err != nil {
		t.Fatalf("Push: %v", err)
	}
	plant()
	if _, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	for _, p := range append(append([]string{}, strayGitFiles...), "hooks/post-commit", "refs/heads/stolen") {
		if _, err := os.Lstat(filepath.Join(co.GitDir, p)); err == nil {
			t.Errorf("%s is still in the git dir", p)
		}
	}
	personGit(t, co, "status")
	personGit(t, co, "commit", "--allow-empty", "-m", "person")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the planted script ran")
	}
	sameSnapshot(t, "the directory outside the checkout", before, snapshot(t, outside))
}

// An agent that replaced the checkout's .git (a file, a symlink to a host
// directory, a directory of its own) or the git dir's hooks (a symlink)
// does not brick the workspace: the next turn repairs it from the runner's
// own git dir, without following the symlink.
func TestReplacedDotGitIsRepaired(t *testing.T) {
	t.Parallel()
	tests := map[string]func(t *testing.T, co Checkout, outside string){
		".git a file": func(t *testing.T, co Checkout, outside string) {
			replace(t, filepath.Join(co.Dir, ".git"))
			writeFile(t, filepath.Join(co.Dir, ".git"), "gitdir: "+outside+"\n")
		},
		".git a symlink to a host dir": func(t *testing.T, co Checkout, outside string) {
			replace(t, filepath.Join(co.Dir, ".git"))
			if err := os.Symlink(outside, filepath.Join(co.Dir, ".git")); err != nil {
				t.Fatal(err)
			}
		},
		".git a directory of the agent's": func(t *testing.T, co Checkout, outside string) {
			writeFile(t, filepath.Join(co.Dir, ".git", "HEAD"), "ref: refs/heads/main\n")
			writeFile(t, filepath.Join(co.Dir, ".git", "config"), "[core]\n\tfsmonitor = touch /tmp/x\n")
		},
		"hooks a symlink to a host dir": func(t *testing.T, co Checkout, outside string) {
			replace(t, filepath.Join(co.GitDir, "hooks"))
			if err := os.Symlink(outside, filepath.Join(co.GitDir, "hooks")); err != nil {
				t.Fatal(err)
			}
		},
		"config a symlink to a host file": func(t *testing.T, co Checkout, outside string) {
			replace(t, filepath.Join(co.GitDir, "config"))
			if err := os.Symlink(filepath.Join(outside, "file"), filepath.Join(co.GitDir, "config")); err != nil {
				t.Fatal(err)
			}
		},
		"index torn by a crash": func(t *testing.T, co Checkout, outside string) {
			index := filepath.Join(co.GitDir, "index")
			fi, err := os.Stat(index)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(index, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
		"index the agent's garbage": func(t *testing.T, co Checkout, outside string) {
			writeFile(t, filepath.Join(co.GitDir, "index"), "DIRC garbage")
		},
		"git dir's info a symlink": func(t *testing.T, co Checkout, outside string) {
			replace(t, filepath.Join(co.GitDir, "info"))
			if err := os.Symlink(outside, filepath.Join(co.GitDir, "info")); err != nil {
				t.Fatal(err)
			}
		},
	}
	s := newServed(t)
	for name, sabotage := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			ctx := context.Background()
			co := h.onBranch(t, s.url)
			work := agentCommit(t, co, "agent work", map[string]string{"a.txt": "a\n"})
			outside := t.TempDir()
			writeFile(t, filepath.Join(outside, "file"), "host file\n")
			writeFile(t, filepath.Join(outside, "pre-commit"), "#!/bin/sh\nexit 0\n")
			before := snapshot(t, outside)
			sabotage(t, co, outside)

			again, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
			if err != nil {
				t.Fatalf("next turn's Prepare: %v", err)
			}
			fi, err := os.Lstat(filepath.Join(again.Dir, ".git"))
			if err != nil || !fi.IsDir() {
				t.Fatalf("checkout's .git after repair: %v, %v", fi, err)
			}
			if empty, _ := isEmptyDir(filepath.Join(again.Dir, ".git")); !empty {
				t.Error("checkout's .git is not empty after repair")
			}
			for _, part := range readOnlyGitParts {
				fi, err := os.Lstat(filepath.Join(again.GitDir, part.name))
				if err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.IsDir() != part.dir {
					t.Errorf("%s after repair: %v, %v", part.name, fi, err)
				}
			}
			if err := h.m.CheckoutBranch(ctx, "ws-1", "claudette/c-1"); err != nil {
				t.Fatalf("CheckoutBranch after repair: %v", err)
			}
			if sha, _, _ := headOf(t, again); sha != work {
				t.Fatalf("HEAD %s after repair, want the agent's %s", sha, work)
			}
			if _, err := h.m.Report(ctx, "ws-1"); err != nil {
				t.Fatalf("Report after repair: %v", err)
			}
			sameSnapshot(t, "the host directory", before, snapshot(t, outside))
		})
	}
}

func replace(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

// A directory of the worktree replaced by a symlink to a host directory is
// a symlink to the runner: the report counts its target text, the commit
// records a symlink, and nothing outside is read or written.
func TestWorktreeSymlinkToTheHostIsNotFollowed(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	co := h.onBranch(t, s.url)
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "main.go"), strings.Repeat("host line\n", 50))
	before := snapshot(t, outside)
	replace(t, filepath.Join(co.Dir, "src"))
	if err := os.Symlink(outside, filepath.Join(co.Dir, "src")); err != nil {
		t.Fatal(err)
	}
	rep, err := h.m.Report(ctx, "ws-1")
	if err != nil {
		t.Fatal(err)
	}
	// src/main.go deleted (-1), src a new symlink (+1 line: its target).
	if rep.FilesChanged != 2 || rep.Insertions != 1 || rep.Deletions != 1 {
		t.Fatalf("report = %+v, want 2 files +1 -1", rep)
	}
	sha, err := h.m.Commit(ctx, "ws-1", "claudette/c-1", CommitMessage)
	if err != nil {
		t.Fatal(err)
	}
	c, err := openCheckout(t, co).CommitObject(plumbingHash(sha))
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := c.Tree()
	e, err := tree.FindEntry("src")
	if err != nil || e.Mode != filemode.Symlink {
		t.Fatalf("src in the runner's commit: %+v, %v; want a symlink", e, err)
	}
	if _, err := tree.File("src/main.go"); err == nil {
		t.Fatal("the commit holds the host's file")
	}
	sameSnapshot(t, "the host directory", before, snapshot(t, outside))
}

// A workspace made before the git dir moved to the data dir is migrated on
// its next turn: its .git moves out of the checkout, with the runner's
// config and no hooks; one whose .git is no directory is refused with what
// is wrong and how to recover.
func TestOldLayoutIsMigrated(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	co := h.onBranch(t, s.url)
	work := agentCommit(t, co, "agent work", map[string]string{"a.txt": "a\n"})
	toOldLayout(t, h, co, "ws-1")
	writeFile(t, filepath.Join(co.Dir, ".git", "hooks", "pre-commit"), "#!/bin/sh\ntouch /tmp/pwned\n")
	writeFile(t, filepath.Join(co.Dir, ".git", "config"), "[core]\n\tfsmonitor = touch /tmp/pwned\n[remote \"origin\"]\n\turl = https://evil.example/x.git\n")

	again, err := h.m.Prepare(ctx, "ws-1", Repository{URL: s.url})
	if err != nil {
		t.Fatalf("Prepare of an old-layout workspace: %v", err)
	}
	if empty, err := isEmptyDir(filepath.Join(again.Dir, ".git")); err != nil || !empty {
		t.Fatalf("checkout's .git after migration: empty %v, %v", empty, err)
	}
	cfg := readFile(t, filepath.Join(again.GitDir, "config"))
	if strings.Contains(cfg, "fsmonitor") || strings.Contains(cfg, "evil") || !strings.Contains(cfg, "url = "+s.url) {
		t.Fatalf("config after migration:\n%s", cfg)
	}
	if empty, _ := isEmptyDir(filepath.Join(again.GitDir, "hooks")); !empty {
		t.Fatal("hooks survived the migration")
	}
	if sha, branch, _ := headOf(t, again); sha != work || branch != "claudette/c-1" {
		t.Fatalf("HEAD %s on %q after migration, want %s on claudette/c-1", sha, branch, work)
	}
	rec, err := readRecord(filepath.Join(h.cfg.DataDir, "workspaces", "ws-1", recordFile))
	if err != nil || !rec.GitDir {
		t.Fatalf("record after migration: %+v, %v", rec, err)
	}

	// An old-layout workspace whose .git the agent turned into a file.
	co2, err := h.m.Prepare(ctx, "ws-2", Repository{URL: s.url})
	if err != nil {
		t.Fatal(err)
	}
	toOldLayout(t, h, co2, "ws-2")
	replace(t, filepath.Join(co2.Dir, ".git"))
	writeFile(t, filepath.Join(co2.Dir, ".git"), "gitdir: /etc\n")
	_, err = h.m.Prepare(ctx, "ws-2", Repository{URL: s.url})
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "workspace.delete") || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Prepare of a bricked old-layout workspace = %v, want what is wrong and how to recover", err)
	}
}

// toOldLayout moves a workspace's git dir back into its checkout and marks
// its record as made before the move, as the previous version left it.
func toOldLayout(t *testing.T, h *harness, co Checkout, id string) {
	t.Helper()
	replace(t, filepath.Join(co.Dir, ".git"))
	if err := os.Rename(co.GitDir, filepath.Join(co.Dir, ".git")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.cfg.DataDir, "workspaces", id, recordFile)
	var rec map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec, "gitDir")
	b, _ := json.Marshal(rec)
	writeFile(t, path, string(b))
}
