package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/moby/moby/client"
)

var gitRoundsFlag = flag.Int("git-rounds", 5, "rounds of the git relay scenario: each pushes and fetches once directly and once through the relay")

// gitRelaySize is the size of the commit the git relay scenario moves
// (random bytes, which no compression shrinks).
const gitRelaySize = 100 << 20

// BenchmarkGitRelay is measurement 7: a 100 MB push and a fetch of it by
// the machine's git CLI through a turn's git relay, against the same
// command straight to the same git server, and the runner's RSS during the
// relayed push.
//
// The relayed path is the sandbox's: a turn of the daemon is running (its
// agent waits), and git reaches origin through the shim's loopback forward
// (the runner binary's sandbox-shim, a process of its own, here on the
// host: 127.0.0.1 → the turn's git.sock), the relay in the daemon, then the
// git server (git http-backend behind net/http/cgi, in this process), with
// the environment the sandbox gets (GIT_CONFIG_* url.insteadOf and the turn
// token). Direct and relayed runs alternate, the order flipping each round;
// the figures are medians. Between pushes the server forgets the branch and
// its objects, so every push sends the whole 100 MB.
func BenchmarkGitRelay(b *testing.B) {
	e := newEnv(b, "git", 20*time.Second)
	d := e.start("", "--turn-timeout", "1h")
	const ws, conv = "ws-git", "c-git"
	branch := "claudette/" + conv
	url := e.git.RepoURL(e.repo)
	src := bigCommit(b, url, gitRelaySize)
	// A host keeps what it receives as a pack (index-pack), as the big ones do.
	e.repo.SetConfig("receive.unpackLimit", "1")

	// A turn whose agent waits: its relay is what the sandbox's git would use.
	e.send("git-hold", ws, conv, "PROBE sleep 55m")
	defer e.cancel(d, "git-cancel", ws, conv)
	sock, sandboxEnv := e.gitAccess(b, d)
	relayed := shimForward(b, sock, sandboxEnv)

	pid := d.pid()
	rounds := max(*gitRoundsFlag, 1)
	var x GitRelay
	x.Rounds, x.MiB = rounds, MiB(gitRelaySize)
	x.LoadStart, x.At = loadAverage(), time.Now().UTC()
	var push, pushRelay, fetch, fetchRelay Sample
	var pushCPU, fetchCPU time.Duration
	timed := func(through bool, rss *float64, cpu *time.Duration, run func(env []string) time.Duration) time.Duration {
		// Every run starts alike: the last run's 100 MB written back to
		// disk, the runner's buffers given back.
		syscall.Sync()
		time.Sleep(300 * time.Millisecond)
		if !through {
			return run(nil)
		}
		idle := d.proc(b).RSS
		hwm := ResetPeakRSS(pid) == nil
		watch := WatchRSS(pid, 5*time.Millisecond)
		c0, up0, down0 := d.proc(b).CPU, d.gitBytes(b, "to_upstream"), d.gitBytes(b, "to_sandbox")
		took := run(relayed)
		// The pack went through the relay, one way or the other.
		if moved := d.gitBytes(b, "to_upstream") - up0 + d.gitBytes(b, "to_sandbox") - down0; moved < gitRelaySize {
			b.Fatalf("%.0f bytes went through the git relay; want at least %d", moved, gitRelaySize)
		}
		peak := watch.Stop()
		p := d.proc(b)
		if hwm {
			peak = max(peak, p.PeakRSS)
		}
		*cpu += p.CPU - c0
		*rss = max(*rss, MiB(peak-idle))
		x.IdleRSSMiB = max(x.IdleRSSMiB, MiB(idle))
		return took
	}

	logf(b, "pushing %d MiB, %d rounds", gitRelaySize>>20, rounds)
	for i := range rounds {
		for _, through := range order(i) {
			took := timed(through, &x.PushRSSMiB, &pushCPU, func(env []string) time.Duration {
				return runGit(b, src, env, "push", "--quiet", url, "HEAD:refs/heads/"+branch)
			})
			if through {
				pushRelay = append(pushRelay, took)
			} else {
				push = append(push, took)
			}
			forgetBranch(b, e.repo, branch)
		}
	}
	// The branch on the server, packed as a host keeps it, then fetched
	// into an empty repository each time.
	runGit(b, src, nil, "push", "--quiet", url, "HEAD:refs/heads/"+branch)
	runGit(b, e.repo.Dir, nil, "repack", "-a", "-d", "-q")
	logf(b, "fetching %d MiB, %d rounds", gitRelaySize>>20, rounds)
	for i := range rounds {
		for _, through := range order(i) {
			dst := filepath.Join(b.TempDir(), "fetch")
			runGit(b, "", nil, "init", "--quiet", dst)
			took := timed(through, &x.FetchRSSMiB, &fetchCPU, func(env []string) time.Duration {
				return runGit(b, dst, env, "fetch", "--quiet", url, branch)
			})
			if through {
				fetchRelay = append(fetchRelay, took)
			} else {
				fetch = append(fetch, took)
			}
			_ = os.RemoveAll(dst)
		}
	}

	x.Push, x.PushRelay = push.Summarize(), pushRelay.Summarize()
	x.Fetch, x.FetchRelay = fetch.Summarize(), fetchRelay.Summarize()
	x.PushRatio = Ratio(pushRelay.Median(), push.Median())
	x.FetchRatio = Ratio(fetchRelay.Median(), fetch.Median())
	x.PushCPUSeconds = (pushCPU / time.Duration(rounds)).Seconds()
	x.FetchCPUSeconds = (fetchCPU / time.Duration(rounds)).Seconds()
	x.LoadEnd = loadAverage()
	x.Met = x.PushRatio <= 1.1 && x.FetchRatio <= 1.1 && x.PushRSSMiB < 64
	logf(b, "push %s direct vs %s relayed (×%.2f), fetch %s vs %s (×%.2f); runner RSS over idle %.1f MiB (push), %.1f MiB (fetch); runner CPU per relayed push %.2f s, fetch %.2f s",
		push.Median().Round(time.Millisecond), pushRelay.Median().Round(time.Millisecond), x.PushRatio,
		fetch.Median().Round(time.Millisecond), fetchRelay.Median().Round(time.Millisecond), x.FetchRatio,
		x.PushRSSMiB, x.FetchRSSMiB, x.PushCPUSeconds, x.FetchCPUSeconds)
	b.ReportMetric(x.PushRatio, "push-ratio")
	b.ReportMetric(x.FetchRatio, "fetch-ratio")
	b.ReportMetric(x.PushRSSMiB, "push-rss-growth-MiB")
	record(func(r *Results) { r.GitRelay = &x })
}

// order is a round's runs, direct (false) or relayed (true): the first
// goes second in the next round.
func order(round int) []bool {
	if round%2 == 0 {
		return []bool{false, true}
	}
	return []bool{true, false}
}

// runGit runs the machine's git with a clean configuration and extra (the
// sandbox's variables, for a relayed run) and returns how long it took.
func runGit(tb testing.TB, dir string, extra []string, args ...string) time.Duration {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(gittest.GitEnv(), extra...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return took
}

// bigCommit clones url and commits size random bytes on top: the agent's
// work to push.
func bigCommit(tb testing.TB, url string, size int) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "src")
	runGit(tb, "", nil, "clone", "--quiet", url, dir)
	blob := make([]byte, size)
	_, _ = rand.Read(blob)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), blob, 0o644); err != nil {
		tb.Fatal(err)
	}
	runGit(tb, dir, nil, "add", "big.bin")
	runGit(tb, dir, nil, "commit", "--quiet", "-m", "big")
	runGit(tb, dir, nil, "repack", "-a", "-d", "-q") // as a checkout that gc'd: the push reuses the packed blob
	return dir
}

// forgetBranch deletes branch on the server and prunes what only it held,
// so the next push sends everything again.
func forgetBranch(tb testing.TB, repo *gittest.Repo, branch string) {
	tb.Helper()
	runGit(tb, repo.Dir, nil, "update-ref", "-d", "refs/heads/"+branch)
	runGit(tb, repo.Dir, nil, "prune", "--expire=now")
	runGit(tb, repo.Dir, nil, "repack", "-a", "-d", "-q") // drops the pushed pack
	if kib := storedKiB(tb, repo.Dir); kib > 1024 {
		tb.Fatalf("the server still holds %d KiB after forgetting the branch", kib)
	}
}

// storedKiB is what a repository's objects take (loose and packed).
func storedKiB(tb testing.TB, dir string) int {
	tb.Helper()
	cmd := exec.Command("git", "count-objects", "-v")
	cmd.Dir, cmd.Env = dir, gittest.GitEnv()
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("git count-objects: %v", err)
	}
	total := 0
	for line := range strings.Lines(string(out)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		if k == "size" || k == "size-pack" {
			n, _ := strconv.Atoi(v)
			total += n
		}
	}
	return total
}

// gitAccess waits for the running turn's git socket and returns it with the
// sandbox's git variables (GIT_CONFIG_*: the insteadOf to the relay and the
// turn token), read from its container.
func (e *env) gitAccess(tb testing.TB, d *daemon) (string, []string) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for ; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var sock string
		// run/turns/<turn> for a sandbox of its own, run/sandboxes/<workspace> for a kept one
		_ = filepath.WalkDir(filepath.Join(e.data, "run"), func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.Name() == "git.sock" && de.Type()&fs.ModeSocket != 0 {
				sock = p
			}
			return nil
		})
		if sock == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := e.docker.ContainerList(ctx, client.ContainerListOptions{
			Filters: client.Filters{}.Add("label", "dev.claudette.runner-id="+e.runnerID)})
		if err != nil || len(res.Items) == 0 {
			cancel()
			continue
		}
		cancel()
		// The turn's environment is the agent's, not the container's (the
		// sandbox's keeper starts each turn with its own): read it from there.
		out, err := exec.Command("docker", "exec", res.Items[0].ID, "sh", "-c",
			`cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep '^GIT_' | sort -u`).Output()
		var env []string
		for _, kv := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.HasPrefix(kv, "GIT_") {
				env = append(env, kv)
			}
		}
		if err != nil || len(env) == 0 {
			continue // the agent has not started yet
		}
		return sock, env
	}
	tb.Fatalf("no turn's git.sock under %s after %s:\n%s", e.data, wait, d.log)
	return "", nil
}

// shimForward starts the runner's sandbox-shim as a process of its own
// forwarding a free loopback port to sock (as in the sandbox, where it
// listens on 127.0.0.1:4143) and returns the sandbox's git variables with
// that port. The shim runs until the scenario ends.
func shimForward(tb testing.TB, sock string, sandboxEnv []string) []string {
	tb.Helper()
	addr := freeAddr(tb)
	cmd := exec.Command(runnerBinary(tb), "sandbox-shim", "--forward", addr+"="+sock, "--", "sleep", "3600")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	for i := 0; ; i++ { // the shim listens before it starts its command
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			break
		}
		if i > 500 {
			tb.Fatalf("the shim does not listen on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	env := make([]string, 0, len(sandboxEnv))
	for _, kv := range sandboxEnv {
		env = append(env, strings.ReplaceAll(kv, "127.0.0.1:4143", addr))
	}
	return env
}

// gitBytes is the runner's claudette_relay_git_bytes_total of a direction.
func (d *daemon) gitBytes(tb testing.TB, direction string) float64 {
	tb.Helper()
	code, body, err := d.get("/metrics")
	if err != nil || code != 200 {
		tb.Fatalf("/metrics: %d %v", code, err)
	}
	prefix := `claudette_relay_git_bytes_total{direction="` + direction + `"} `
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// cancel stops the conversation's running turn (conversation.cancel).
func (e *env) cancel(d *daemon, msgID, workspaceID, conversationID string) {
	payload, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": msgID, "method": rpc.MethodConversationCancel,
		"params": map[string]any{"workspaceId": workspaceID, "conversationId": conversationID}})
	if err != nil {
		e.tb.Fatal(err)
	}
	e.electric.InsertMessage(msgID, e.runnerID, workspaceID, payload)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := e.orch.WaitResponse(ctx, msgID); err != nil {
		e.tb.Errorf("cancel: %v\n%s", err, d.log)
	}
}
