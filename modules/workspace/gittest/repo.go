package gittest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// DefaultBranch is the branch NewRepo commits to and the bare repository's HEAD.
const DefaultBranch = "main"

// Repo is a bare git repository (Dir) with a working clone that authors its commits.
type Repo struct {
	// Name is the repository's last URL path element, e.g. "repo-1.git".
	Name string
	// Dir is the bare repository that Serve publishes.
	Dir string

	tb   testing.TB
	work string
}

var repoSeq atomic.Int64

// NewRepo creates a repository whose default branch (main) holds one commit
// with files (path relative to the root -> content). Paths may contain "/".
func NewRepo(tb testing.TB, files map[string]string) *Repo {
	tb.Helper()
	root := tb.TempDir()
	r := &Repo{
		tb:   tb,
		Name: fmt.Sprintf("repo-%d.git", repoSeq.Add(1)),
		work: filepath.Join(root, "work"),
	}
	r.Dir = filepath.Join(root, r.Name)
	run(tb, root, "init", "--quiet", "--bare", "--initial-branch="+DefaultBranch, r.Dir)
	run(tb, root, "init", "--quiet", "--initial-branch="+DefaultBranch, r.work)
	r.Commit("initial commit", files)
	return r
}

// Commit writes files into the working clone, commits them on the current
// branch, pushes everything to the bare repository and returns the commit sha.
func (r *Repo) Commit(message string, files map[string]string) string {
	r.tb.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.tb.Fatalf("gittest: %v", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.tb.Fatalf("gittest: %v", err)
		}
	}
	r.Git("add", "--all")
	r.Git("commit", "--quiet", "--allow-empty", "-m", message)
	r.push()
	return r.Head()
}

// Branch creates branch name at the current commit and switches the working
// clone to it, so later commits land there.
func (r *Repo) Branch(name string) {
	r.tb.Helper()
	r.Git("checkout", "--quiet", "-b", name)
	r.push()
}

// Switch moves the working clone to an existing branch.
func (r *Repo) Switch(name string) {
	r.tb.Helper()
	r.Git("checkout", "--quiet", name)
}

// Tag tags the current commit; annotated makes an annotated tag object.
func (r *Repo) Tag(name string, annotated bool) {
	r.tb.Helper()
	if annotated {
		r.Git("tag", "-a", "-m", "tag "+name, name)
	} else {
		r.Git("tag", name)
	}
	r.push()
}

// SetDefaultBranch points the bare repository's HEAD (what a clone without a
// ref checks out) at an existing branch.
func (r *Repo) SetDefaultBranch(name string) {
	r.tb.Helper()
	run(r.tb, r.Dir, "symbolic-ref", "HEAD", "refs/heads/"+name)
}

// Head returns the sha of the working clone's current commit.
func (r *Repo) Head() string {
	r.tb.Helper()
	return r.Git("rev-parse", "HEAD")
}

// SetConfig sets a git configuration key in the bare repository, e.g.
// uploadpack.allowReachableSHA1InWant=true to let clients fetch any commit.
func (r *Repo) SetConfig(key, value string) {
	r.tb.Helper()
	run(r.tb, r.Dir, "config", key, value)
}

// Git runs git in the working clone and returns its trimmed standard output.
func (r *Repo) Git(args ...string) string {
	r.tb.Helper()
	return run(r.tb, r.work, args...)
}

// GitInput is Git with stdin, for plumbing such as hash-object and mktree
// (e.g. to craft a hostile tree); follow it with Publish.
func (r *Repo) GitInput(stdin string, args ...string) string {
	r.tb.Helper()
	return runInput(r.tb, r.work, stdin, args...)
}

// Publish pushes every ref of the working clone to the bare repository.
func (r *Repo) Publish() {
	r.tb.Helper()
	r.push()
}

// WorkDir is the working clone (a plain repository with a worktree), usable as
// a local source path.
func (r *Repo) WorkDir() string { return r.work }

func (r *Repo) push() {
	r.tb.Helper()
	r.Git("push", "--quiet", "--force", "--mirror", r.Dir)
}

// ManyFiles returns n files of size bytes each, spread over directories of
// at most 100 files, with pseudo-random (incompressible) printable content
// derived from seed, for clone benchmarks.
func ManyFiles(n, size int, seed uint64) map[string]string {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n"
	files := make(map[string]string, n)
	buf := make([]byte, size)
	for i := range n {
		for j := range buf {
			buf[j] = alphabet[rng.IntN(len(alphabet))]
		}
		files[fmt.Sprintf("d%03d/f%05d.txt", i/100, i)] = string(buf)
	}
	return files
}

// GitEnv is the environment every git command of this package runs with:
// no system or global configuration, a fixed identity.
func GitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=gittest", "GIT_AUTHOR_EMAIL=gittest@example.invalid",
		"GIT_COMMITTER_NAME=gittest", "GIT_COMMITTER_EMAIL=gittest@example.invalid",
	)
}

func run(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	return runInput(tb, dir, "", args...)
}

func runInput(tb testing.TB, dir, stdin string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = GitEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("gittest: git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
