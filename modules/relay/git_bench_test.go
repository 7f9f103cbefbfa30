package relay

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// BenchmarkGitRelay pushes and fetches a 100 MB commit (incompressible)
// straight to a local gittest server and through the git relay (loopback
// TCP in, Unix socket, the relay, HTTP out), each to a fresh repository,
// and reports the relay's time ratio and how much this process's peak RSS
// grew over idle during the relayed push (the relay streams: goal < 64 MiB).
//
//	go test -run '^$' -bench GitRelay -benchtime 3x ./modules/relay/
func BenchmarkGitRelay(b *testing.B) {
	const size = 100 << 20
	home := b.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@example.invalid", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@example.invalid"}
	git := func(extra []string, dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, append(append([]string(nil), env...), extra...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// One local repository holding the big commit, pushed from every run.
	src := filepath.Join(b.TempDir(), "src")
	git(nil, "", "init", "--quiet", "--initial-branch=main", src)
	blob := make([]byte, size)
	_, _ = rand.Read(blob)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), blob, 0o644); err != nil {
		b.Fatal(err)
	}
	blob = nil
	git(nil, src, "add", "big.bin")
	git(nil, src, "commit", "--quiet", "-m", "big")

	cfg := testConfig(b, "http://127.0.0.1:9")
	r, err := New(Params{Config: cfg, Binary: shimBinary})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())

	// relayed opens a turn for repo's URL and returns the sandbox's git env.
	relayed := func(url string) (env []string, done func()) {
		a, err := r.Open(context.Background(), Turn{MessageID: "bench-" + randHex(4), WorkspaceID: "ws-1", ConversationID: "c-1",
			Git: &GitRemote{URL: url, Branch: "claudette/bench"}})
		if err != nil {
			b.Fatal(err)
		}
		port, stop := benchForward(b, socketOf(a, gitSocket))
		for _, e := range a.Env {
			if strings.HasPrefix(e, "GIT_") {
				env = append(env, strings.ReplaceAll(e, "127.0.0.1:"+strconv.Itoa(GitPort), "127.0.0.1:"+strconv.Itoa(port)))
			}
		}
		return env, func() { stop(); a.Close() }
	}

	var spent [4]time.Duration // push direct, push relay, fetch direct, fetch relay
	var rssGrowth int64
	for i := 0; i < b.N; i++ {
		for k, through := range []bool{false, true, false, true} {
			b.StopTimer()
			repo := gittest.NewRepo(b, map[string]string{"README.md": "x\n"})
			srv := gittest.Serve(b, repo)
			url := srv.RepoURL(repo)
			var extra []string
			done := func() {}
			if through {
				extra, done = relayed(url)
			}
			fetching := k >= 2
			dir := src
			if fetching {
				git(nil, src, "push", "--quiet", url, "HEAD:refs/heads/claudette/bench")
				dir = filepath.Join(b.TempDir(), "dst")
				git(nil, "", "init", "--quiet", dir)
			}
			idle := rss("VmRSS")
			if through && !fetching {
				_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM
			}
			start := time.Now()
			b.StartTimer()
			if fetching {
				git(extra, dir, "fetch", "--quiet", url, "claudette/bench")
			} else {
				git(extra, dir, "push", "--quiet", url, "HEAD:refs/heads/claudette/bench")
			}
			b.StopTimer()
			spent[k] += time.Since(start)
			if through && !fetching {
				rssGrowth = max(rssGrowth, rss("VmHWM")-idle)
			}
			done()
		}
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "push-ratio")
	b.ReportMetric(float64(spent[3])/float64(spent[2]), "fetch-ratio")
	b.ReportMetric((spent[0] / n).Seconds(), "push-direct-s")
	b.ReportMetric((spent[1] / n).Seconds(), "push-relay-s")
	b.ReportMetric((spent[2] / n).Seconds(), "fetch-direct-s")
	b.ReportMetric((spent[3] / n).Seconds(), "fetch-relay-s")
	b.ReportMetric(float64(rssGrowth)/(1<<20), "rss-growth-MiB")
}

// rss reads a size (kB) of /proc/self/status in bytes.
func rss(field string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb int64
			_, _ = fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

func benchForward(b *testing.B, socket string) (int, func()) {
	fw, err := listenForward(socket)
	if err != nil {
		b.Fatal(err)
	}
	return fw.port, fw.close
}
