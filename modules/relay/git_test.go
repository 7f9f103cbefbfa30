package relay

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The sandbox's stock git clones, commits and pushes its own branch through
// the relay: the commit lands, the host got the runner's credential (and
// never the turn token), the client never had it, a git_push event is
// raised per push with old and new.
func TestGitRelayPushesTheOwnBranch(t *testing.T) {
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	srv := gittest.ServeTLS(t, repo)
	srv.RequireToken(gitCredential)
	f := openGit(t, gitConfig(t, srv), srv, srv.RepoURL(repo), testBranch)

	for _, e := range f.a.Env {
		if strings.Contains(e, gitCredential) {
			t.Fatalf("the runner's credential is in the sandbox env: %s", e)
		}
	}
	dir := f.clone(t)
	if got := f.mustGit(t, dir, "config", "remote.origin.url"); got != srv.RepoURL(repo) {
		t.Errorf("origin = %s, want the real URL kept", got)
	}
	first := f.commit(t, dir, "a.txt", "one\n")
	out := f.mustGit(t, dir, "push", "origin", "HEAD:"+testBranch)
	if got := refOf(t, repo.Dir, "refs/heads/"+testBranch); got != first {
		t.Fatalf("branch on the host = %q, want %s\n%s", got, first, out)
	}
	second := f.commit(t, dir, "b.txt", "two\n")
	f.mustGit(t, dir, "push", "origin", "HEAD:"+testBranch)
	if got := refOf(t, repo.Dir, "refs/heads/"+testBranch); got != second {
		t.Fatalf("branch on the host = %q, want %s", got, second)
	}

	pushes := f.eventsOf("git_push")
	if len(pushes) != 2 || pushes[0]["ref"] != "refs/heads/"+testBranch || pushes[0]["old"] != zeroID || pushes[0]["new"] != first ||
		pushes[1]["old"] != first || pushes[1]["new"] != second || pushes[0]["type"] != "runner" {
		t.Errorf("git_push events = %v", pushes)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+gitCredential))
	reqs := srv.Requests()
	if len(srv.Pushes()) != 2 || len(reqs) < 6 {
		t.Fatalf("host saw %d requests, %d pushes", len(reqs), len(srv.Pushes()))
	}
	for _, r := range reqs {
		if r.Authorization != basic || r.Status != 200 {
			t.Errorf("host saw %s %s with authorization %q, status %d; want the runner's Basic credential", r.Method, r.Path, r.Authorization, r.Status)
		}
	}
	if strings.Contains(f.logs.String(), gitCredential) || strings.Contains(f.logs.String(), f.a.Token) {
		t.Error("a credential is in the log")
	}
	m := f.r.metrics
	if testutil.ToFloat64(m.gitPushes) != 2 || testutil.ToFloat64(m.gitRequests.WithLabelValues(serviceReceive, "200")) < 2 ||
		testutil.ToFloat64(m.gitBytes.WithLabelValues("to_upstream")) == 0 || testutil.ToFloat64(m.gitBytes.WithLabelValues("to_sandbox")) == 0 {
		t.Error("git metrics not counted")
	}
}
