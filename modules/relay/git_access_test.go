package relay

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// Fetch, pull and ls-remote reach origin through the relay.
func TestGitRelayFetchPullLsRemote(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	srv := gittest.ServeTLS(t, repo)
	srv.RequireToken(gitCredential)
	f := openGit(t, gitConfig(t, srv), srv, srv.RepoURL(repo), testBranch)
	dir := f.clone(t)

	next := repo.Commit("upstream moved", map[string]string{"b.txt": "b\n"})
	if out := f.mustGit(t, dir, "ls-remote", "origin"); !strings.Contains(out, next+"\trefs/heads/main") {
		t.Errorf("ls-remote:\n%s\nwant main at %s", out, next)
	}
	f.mustGit(t, dir, "fetch", "origin")
	if got := f.mustGit(t, dir, "rev-parse", "origin/main"); got != next {
		t.Errorf("origin/main = %s after fetch, want %s", got, next)
	}
	third := repo.Commit("again", map[string]string{"c.txt": "c\n"})
	f.mustGit(t, dir, "pull", "--quiet", "--ff-only", "origin", "main")
	if got := f.mustGit(t, dir, "rev-parse", "HEAD"); got != third {
		t.Errorf("HEAD = %s after pull, want %s", got, third)
	}
}

// The host refusing the runner's credential: git prints the host's answer
// and fails; nothing else breaks (the relay answers the next request).
func TestGitRelayPassesTheHostsRefusal(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	srv := gittest.ServeTLS(t, repo)
	srv.RequireToken("another-token")
	f := openGit(t, gitConfig(t, srv), srv, srv.RepoURL(repo), testBranch)
	for range 2 {
		out, err := f.git(t.TempDir(), "ls-remote", f.origin)
		if err == nil || !strings.Contains(out, "answered HTTP 401") || !strings.Contains(out, "credential") {
			t.Errorf("ls-remote: %v\n%s\nwant the host's 401 printed", err, out)
		}
	}
}

// Nothing but git's smart HTTP for the turn's own origin, with the live
// turn's token, is relayed.
func TestGitRelayRefusesOtherRequests(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	other := gittest.NewRepo(t, map[string]string{"secret": "s\n"})
	srv := gittest.ServeTLS(t, repo, other)
	srv.RequireToken(gitCredential)
	f := openGit(t, gitConfig(t, srv), srv, srv.RepoURL(repo), testBranch)
	c := socketClient(socketOf(f.a, gitSocket))
	cases := map[string]struct {
		method, path, token, ctype string
		code                       int
	}{
		"no token":          {"GET", "/origin.git/info/refs?service=git-upload-pack", "", "", 401},
		"wrong token":       {"GET", "/origin.git/info/refs?service=git-upload-pack", strings.Repeat("0", 64), "", 401},
		"another repo":      {"GET", "/" + other.Name + "/info/refs?service=git-upload-pack", "T", "", 403},
		"escaped path":      {"GET", "/origin.git/..%2F" + other.Name + "/info/refs?service=git-upload-pack", "T", "", 403},
		"dumb http":         {"GET", "/origin.git/info/refs", "T", "", 403},
		"dumb objects":      {"GET", "/origin.git/HEAD", "T", "", 403},
		"another service":   {"GET", "/origin.git/info/refs?service=git-upload-archive", "T", "", 403},
		"put":               {"PUT", "/origin.git/git-receive-pack", "T", "application/x-git-receive-pack-request", 403},
		"post without type": {"POST", "/origin.git/git-upload-pack", "T", "", 403},
		"get an rpc":        {"GET", "/origin.git/git-upload-pack", "T", "", 403},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://127.0.0.1:4143"+tc.path, strings.NewReader("0000"))
			if tc.token != "" {
				tok := tc.token
				if tok == "T" {
					tok = f.a.Token
				}
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the host saw %d requests", n)
	}

	// An ended turn: its socket is gone, and git through it fails.
	dir := f.clone(t)
	socket := socketOf(f.a, gitSocket)
	f.a.Close()
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("the ended turn's git socket is still there: %v", err)
	}
	if out, err := f.git(dir, "fetch", "origin"); err == nil {
		t.Errorf("fetch through an ended turn worked:\n%s", out)
	}
	if pushes := f.eventsOf("git_push"); len(pushes) != 0 {
		t.Errorf("git_push events of a turn that pushed nothing: %v", pushes)
	}
}
