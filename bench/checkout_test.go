package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// The generated repository of the checkout scenario: 5,000 files of 10 KiB
// of pseudo-random text (about 50 MB) in 50 directories (gittest.ManyFiles).
const (
	checkoutFiles    = 5000
	checkoutFileSize = 10 << 10
	checkoutRuns     = 3
	warmRuns         = 200
)

// BenchmarkCheckout is measurement 6: a cold shallow clone of a generated
// repository over local smart HTTP by the runner's workspace manager (the
// code the daemon runs, in this process), against `git clone --depth 1` of
// the same, interleaved; and the checkout of a workspace that already has one.
func BenchmarkCheckout(b *testing.B) {
	logf(b, "generating a repository of %d files", checkoutFiles)
	repo := gittest.NewRepo(b, gittest.ManyFiles(checkoutFiles, checkoutFileSize, 1))
	srv := gittest.Serve(b, repo)
	url := srv.RepoURL(repo)
	cfg := config.Defaults()
	cfg.DataDir, cfg.WorkspaceDir = b.TempDir(), b.TempDir()
	cfg.Git.AllowHTTP = true
	m, err := workspace.New(workspace.Params{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	runner := func(id string) (time.Duration, time.Duration, int64) {
		cpu0 := selfCPU()
		start := time.Now()
		co, err := m.Prepare(ctx, id, workspace.Repository{URL: url, Ref: gittest.DefaultBranch})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start), selfCPU() - cpu0, co.Bytes
	}
	git := func(dir string) time.Duration {
		cmd := exec.Command("git", "clone", "--quiet", "--depth", "1", "--single-branch", "--branch", gittest.DefaultBranch, "--no-tags", url, dir)
		cmd.Env = gittest.GitEnv()
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git clone: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	gitDir := b.TempDir()

	logf(b, "cloning: 1 warm-up and %d measured, each way", checkoutRuns)
	runner("ws-warmup")
	git(filepath.Join(gitDir, "warmup"))
	var ours, theirs Sample
	var cpu time.Duration
	var size int64
	for i := range checkoutRuns {
		id := fmt.Sprintf("ws-%d", i)
		d, c, n := runner(id)
		ours, cpu, size = append(ours, d), cpu+c, n
		if err := m.Delete(ctx, id, nil); err != nil {
			b.Fatal(err)
		}
		dir := filepath.Join(gitDir, id)
		theirs = append(theirs, git(dir))
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
	var warm Sample
	for range warmRuns {
		start := time.Now()
		if _, err := m.Prepare(ctx, "ws-warmup", workspace.Repository{URL: url, Ref: gittest.DefaultBranch}); err != nil {
			b.Fatal(err)
		}
		warm = append(warm, time.Since(start))
	}
	c := &Checkout{Files: checkoutFiles, MiB: float64(checkoutFiles*checkoutFileSize) / (1 << 20),
		Runner: ours.Summarize(), Git: theirs.Summarize(), Ratio: Ratio(ours.Median(), theirs.Median()),
		Warm: warm.Summarize(), RunnerCPU: cpu.Seconds() / checkoutRuns, CheckoutMiB: MiB(size)}
	logf(b, "runner %s vs git %s (×%.2f); warm %s", ours.Median().Round(time.Millisecond), theirs.Median().Round(time.Millisecond), c.Ratio, warm.Median())
	b.ReportMetric(c.Runner.P50, "runner-clone-p50-ms")
	b.ReportMetric(c.Git.P50, "git-clone-p50-ms")
	b.ReportMetric(c.Warm.P50, "warm-checkout-p50-ms")
	record(func(r *Results) { r.Checkout = c })
}

// selfCPU is this process's user and system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
