package relay

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A push of anything but the own branch (matching --git-push-branches) is
// refused whole before it is forwarded: git prints "[remote rejected]" with
// the reason and fails, the host saw no receive-pack, a git_push_refused
// event says why.
func TestGitRelayRefusesOtherRefs(t *testing.T) {
	cases := map[string]struct {
		branch   string
		patterns []string
		setup    func(t *testing.T, f *gitFixture, dir string)
		push     []string
		ref      string
		reason   string
		label    string
	}{
		"main":         {push: []string{"HEAD:main"}, ref: "refs/heads/main", reason: "only refs/heads/" + testBranch + " may be pushed", label: refusedOtherRef},
		"other":        {push: []string{"HEAD:feature"}, ref: "refs/heads/feature", reason: "only refs/heads/", label: refusedOtherRef},
		"tag":          {setup: func(t *testing.T, f *gitFixture, dir string) { f.mustGit(t, dir, "tag", "v9") }, push: []string{"v9"}, ref: "refs/tags/v9", reason: "tags are not pushed", label: refusedTag},
		"deletion":     {push: []string{":" + testBranch}, ref: "refs/heads/" + testBranch, reason: "deleting a ref is not allowed", label: refusedDeletion},
		"off":          {patterns: []string{}, push: []string{"HEAD:" + testBranch}, ref: "refs/heads/" + testBranch, reason: "pushing is off", label: refusedPushingOff},
		"no pattern":   {branch: "feature/x", push: []string{"HEAD:feature/x"}, ref: "refs/heads/feature/x", reason: "not in the runner's --git-push-branches", label: refusedNotAllowed},
		"own and main": {push: []string{"HEAD:" + testBranch, "HEAD:main"}, ref: "refs/heads/main", reason: "only refs/heads/", label: refusedOtherRef},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
			repo.Branch(testBranch) // exists, so that a deletion has something to delete
			repo.Switch(gittest.DefaultBranch)
			srv := gittest.ServeTLS(t, repo)
			srv.RequireToken(gitCredential)
			cfg := gitConfig(t, srv)
			if c.patterns != nil {
				cfg.Git.PushBranches = c.patterns
			}
			branch := testBranch
			if c.branch != "" {
				branch = c.branch
			}
			f := openGit(t, cfg, srv, srv.RepoURL(repo), branch)
			dir := f.clone(t)
			f.commit(t, dir, "a.txt", "one\n")
			if c.setup != nil {
				c.setup(t, f, dir)
			}
			before := map[string]string{}
			for _, r := range []string{"refs/heads/main", "refs/heads/" + testBranch} {
				before[r] = refOf(t, repo.Dir, r)
			}
			out, err := f.git(dir, append([]string{"push", "origin"}, c.push...)...)
			if err == nil {
				t.Fatalf("push succeeded:\n%s", out)
			}
			if !strings.Contains(out, "[remote rejected]") || !strings.Contains(out, c.reason) {
				t.Errorf("git said:\n%s\nwant [remote rejected] and %q", out, c.reason)
			}
			if p := srv.Pushes(); len(p) != 0 {
				t.Errorf("the host saw %d receive-pack requests", len(p))
			}
			for r, sha := range before {
				if got := refOf(t, repo.Dir, r); got != sha {
					t.Errorf("%s moved from %s to %s", r, sha, got)
				}
			}
			refused := f.eventsOf("git_push_refused")
			found := false
			for _, e := range refused {
				found = found || (e["ref"] == c.ref && strings.Contains(e["reason"].(string), c.reason))
			}
			if !found || len(f.eventsOf("git_push")) != 0 {
				t.Errorf("events %v, want git_push_refused for %s", refused, c.ref)
			}
			if testutil.ToFloat64(f.r.metrics.gitPushRefused.WithLabelValues(c.label)) == 0 {
				t.Errorf("refusal %s not counted", c.label)
			}
		})
	}
}

// A push bigger than --git-push-max-size is refused with its reason, both
// when its length is known (refused before forwarding) and when it is sent
// chunked (the host's request is cut: no ref moves).
func TestGitRelayRefusesTooLargePush(t *testing.T) {
	cases := map[string]struct{ size int }{
		"content length": {size: 256 << 10}, // under git's 1 MiB post buffer: one request with its length
		"chunked":        {size: 4 << 20},   // over it: a probe, then a chunked request
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
			srv := gittest.ServeTLS(t, repo)
			srv.RequireToken(gitCredential)
			cfg := gitConfig(t, srv)
			cfg.Git.PushMaxSize = config.ByteSize(64 << 10)
			f := openGit(t, cfg, srv, srv.RepoURL(repo), testBranch)
			dir := f.clone(t)
			b := make([]byte, c.size/2)
			_, _ = rand.Read(b)
			if err := os.WriteFile(filepath.Join(dir, "big.bin"), []byte(hex.EncodeToString(b)), 0o644); err != nil {
				t.Fatal(err)
			}
			f.mustGit(t, dir, "add", "big.bin")
			f.mustGit(t, dir, "commit", "--quiet", "-m", "big")
			out, err := f.git(dir, "push", "origin", "HEAD:"+testBranch)
			if err == nil || !strings.Contains(out, "[remote rejected]") || !strings.Contains(out, "--git-push-max-size") {
				t.Fatalf("push: %v\n%s\nwant [remote rejected] for the size", err, out)
			}
			if got := refOf(t, repo.Dir, "refs/heads/"+testBranch); got != "" {
				t.Errorf("the branch landed at %s", got)
			}
			if name == "content length" && len(srv.Pushes()) != 0 {
				t.Errorf("the host saw %d receive-pack requests", len(srv.Pushes()))
			}
			if testutil.ToFloat64(f.r.metrics.gitPushRefused.WithLabelValues(refusedTooLarge)) != 1 {
				t.Error("too_large not counted")
			}
		})
	}
}
