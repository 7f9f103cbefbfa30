package relay

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// A local origin (exec --repo PATH) is served by go-git in the runner: the
// sandbox's git clones, fetches and pushes its own branch (also from a
// shallow clone), refs other than the own branch are refused, and the
// branch checked out in a non-bare repository is never moved.
func TestGitRelayLocalOrigin(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	t.Run("bare", func(t *testing.T) {
		f := openGit(t, gitConfig(t, nil), nil, repo.Dir, testBranch)
		dir := f.clone(t)
		head := f.commit(t, dir, "a.txt", "one\n")
		f.mustGit(t, dir, "push", "origin", "HEAD:"+testBranch)
		if got := refOf(t, repo.Dir, "refs/heads/"+testBranch); got != head {
			t.Fatalf("branch = %q, want %s", got, head)
		}
		second := f.commit(t, dir, "b.txt", "two\n")
		f.mustGit(t, dir, "push", "origin", "HEAD:"+testBranch)
		if got := refOf(t, repo.Dir, "refs/heads/"+testBranch); got != second {
			t.Fatalf("branch = %q, want %s", got, second)
		}
		fsck := exec.Command("git", "--git-dir", repo.Dir, "fsck", "--strict")
		fsck.Env = gittest.GitEnv()
		if out, err := fsck.CombinedOutput(); err != nil {
			t.Fatalf("fsck of the local origin after the push: %v\n%s", err, out)
		}
		if p := f.eventsOf("git_push"); len(p) != 2 || p[1]["old"] != head || p[1]["new"] != second {
			t.Errorf("git_push events %v", p)
		}
		out, err := f.git(dir, "push", "origin", "HEAD:main")
		if err == nil || !strings.Contains(out, "[remote rejected]") {
			t.Errorf("push to main: %v\n%s", err, out)
		}
		if out := f.mustGit(t, dir, "ls-remote", "origin"); !strings.Contains(out, second+"\trefs/heads/"+testBranch) {
			t.Errorf("ls-remote:\n%s", out)
		}
		next := repo.Commit("moved", map[string]string{"c.txt": "c\n"})
		f.mustGit(t, dir, "fetch", "origin")
		if got := f.mustGit(t, dir, "rev-parse", "origin/main"); got != next {
			t.Errorf("origin/main = %s after fetch, want %s", got, next)
		}
	})
	t.Run("shallow clone", func(t *testing.T) {
		f := openGit(t, gitConfig(t, nil), nil, repo.Dir, "claudette/shallow")
		dir := filepath.Join(t.TempDir(), "shallow")
		cmd := exec.Command("git", "clone", "--quiet", "--depth", "1", "file://"+repo.Dir, dir)
		cmd.Env = gittest.GitEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("shallow clone: %v\n%s", err, out)
		}
		f.mustGit(t, dir, "remote", "set-url", "origin", repo.Dir)
		head := f.commit(t, dir, "s.txt", "shallow\n")
		f.mustGit(t, dir, "push", "origin", "HEAD:claudette/shallow")
		if got := refOf(t, repo.Dir, "refs/heads/claudette/shallow"); got != head {
			t.Fatalf("branch = %q, want %s", got, head)
		}
	})
	t.Run("checked-out branch", func(t *testing.T) {
		work := repo.WorkDir()
		repo.Branch("claudette/here") // the person's working tree has it checked out
		defer repo.Switch(gittest.DefaultBranch)
		f := openGit(t, gitConfig(t, nil), nil, work, "claudette/here")
		dir := f.clone(t)
		f.commit(t, dir, "x.txt", "x\n")
		out, err := f.git(dir, "push", "origin", "HEAD:claudette/here")
		if err == nil || !strings.Contains(out, "checked out") {
			t.Errorf("push to the checked-out branch: %v\n%s", err, out)
		}
	})
}
