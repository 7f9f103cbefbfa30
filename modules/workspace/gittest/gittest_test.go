package gittest

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func gitClone(t *testing.T, url, dir string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", "clone", "--quiet", url, dir)
	cmd.Env = GitEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestServeClonesWithTheGitCLI(t *testing.T) {
	repo := NewRepo(t, map[string]string{"README.md": "hello\n", "src/a.go": "package a\n"})
	second := repo.Commit("second", map[string]string{"src/b.go": "package b\n"})
	srv := Serve(t, repo)

	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := gitClone(t, srv.RepoURL(repo), dir); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	for name, want := range map[string]string{"README.md": "hello\n", "src/b.go": "package b\n"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	cmd := exec.Command("git", "-C", dir, "rev-parse", "HEAD")
	cmd.Env = GitEnv()
	head, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(head)) != second {
		t.Errorf("cloned HEAD = %q, %v; want %s", head, err, second)
	}

	reqs := srv.Requests()
	if len(reqs) < 2 || reqs[0].Path != "/"+repo.Name+"/info/refs" || reqs[0].Query != "service=git-upload-pack" {
		t.Fatalf("recorded requests = %+v; want the ref advertisement first", reqs)
	}
}

func TestServeRequiresTheToken(t *testing.T) {
	repo := NewRepo(t, map[string]string{"a": "a"})
	srv := Serve(t, repo)
	srv.RequireToken("s3cret")

	if out, err := gitClone(t, srv.RepoURL(repo), filepath.Join(t.TempDir(), "anon")); err == nil {
		t.Fatalf("anonymous clone succeeded; want 401\n%s", out)
	}
	if reqs := srv.Requests(); len(reqs) == 0 || reqs[0].Status != http.StatusUnauthorized {
		t.Fatalf("requests = %+v; want a 401 recorded", reqs)
	}

	withToken := strings.Replace(srv.RepoURL(repo), "http://", "http://x:s3cret@", 1)
	if out, err := gitClone(t, withToken, filepath.Join(t.TempDir(), "auth")); err != nil {
		t.Fatalf("clone with token: %v\n%s", err, out)
	}
	last := srv.Requests()[len(srv.Requests())-1]
	if last.Status != http.StatusOK || !strings.HasPrefix(last.Authorization, "Basic ") {
		t.Fatalf("last request = %+v; want 200 with Basic auth", last)
	}
}

func TestRepoBranchesTagsAndConfig(t *testing.T) {
	repo := NewRepo(t, map[string]string{"a": "1"})
	first := repo.Head()
	repo.Tag("v1", true)
	repo.Branch("feature")
	feature := repo.Commit("on feature", map[string]string{"a": "2"})
	repo.Switch(DefaultBranch)
	repo.SetConfig("uploadpack.allowReachableSHA1InWant", "true")

	refs := run(t, repo.Dir, "show-ref")
	for _, want := range []string{first + " refs/heads/main", feature + " refs/heads/feature", "refs/tags/v1"} {
		if !strings.Contains(refs, want) {
			t.Errorf("bare refs %q lack %q", refs, want)
		}
	}
	if got := run(t, repo.Dir, "config", "uploadpack.allowReachableSHA1InWant"); got != "true" {
		t.Errorf("config = %q", got)
	}
	if files := ManyFiles(250, 10, 1); len(files) != 250 || len(files["d002/f00249.txt"]) != 10 {
		t.Errorf("ManyFiles gave %d files", len(files))
	}
}

// Over TLS with its test CA and a token, the git CLI clones and pushes, and
// the push is recorded with its Authorization header.
func TestServeTLSTakesAndRecordsPushes(t *testing.T) {
	repo := NewRepo(t, map[string]string{"a": "a"})
	srv := ServeTLS(t, repo)
	srv.RequireToken("s3cret")
	if !strings.HasPrefix(srv.URL, "https://") || srv.CertPool() == nil || srv.CAFile() == "" {
		t.Fatalf("URL %s, pool %v, CA file %q", srv.URL, srv.CertPool(), srv.CAFile())
	}
	dir := filepath.Join(t.TempDir(), "clone")
	url := strings.Replace(srv.RepoURL(repo), "https://", "https://x:s3cret@", 1)
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Env = append(GitEnv(), "GIT_SSL_CAINFO="+srv.CAFile())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("clone", "--quiet", url, dir)
	git("-C", dir, "commit", "--quiet", "--allow-empty", "-m", "pushed")
	head := git("-C", dir, "rev-parse", "HEAD")
	git("-C", dir, "push", "--quiet", "origin", "HEAD:refs/heads/topic")
	if got := run(t, repo.Dir, "rev-parse", "refs/heads/topic"); got != head {
		t.Errorf("topic = %s, want %s", got, head)
	}
	pushes := srv.Pushes()
	if len(pushes) != 1 || pushes[0].Status != http.StatusOK || !strings.HasPrefix(pushes[0].Authorization, "Basic ") {
		t.Errorf("pushes = %+v, want one authorized receive-pack", pushes)
	}
}
