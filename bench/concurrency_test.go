package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// sleepFor is how long the concurrency scenario's agent sleeps.
const sleepFor = 5 * time.Second

// BenchmarkConcurrentWorkspaces is measurement 4: -workspaces (50)
// workspaces at once, each agent sleeping 5 s: all complete; the runner's
// peak RSS; the overhead per turn (message → response, less the sleep) at
// 50 against 1. For reference, the Docker CLI running the same 50 (and 1)
// at once.
func BenchmarkConcurrentWorkspaces(b *testing.B) {
	n := *parallel
	e := newEnv(b, "concurrency", 20*time.Second)
	d := e.start("", "--max-concurrent", strconv.Itoa(n))
	prompt := "PROBE sleep " + sleepFor.String()
	ws := func(i int) string { return fmt.Sprintf("ws-%02d", i) }

	logf(b, "warming up: cloning %d checkouts at once", n)
	for i := range n {
		e.send(fmt.Sprintf("warm-%02d", i), ws(i), "c-warm", instantPrompt)
	}
	for i := range n {
		e.completed(d, fmt.Sprintf("warm-%02d", i))
	}

	logf(b, "one turn at a time")
	var at1 Sample
	for i := range 3 {
		msg := fmt.Sprintf("single-%d", i)
		t0, r := e.turn(d, msg, ws(i), "c-"+msg, prompt)
		at1 = append(at1, r.At.Sub(t0)-sleepFor)
	}

	logf(b, "%d turns at once", n)
	pid := d.pid()
	hwm := ResetPeakRSS(pid) == nil
	watch := WatchRSS(pid, 10*time.Millisecond)
	cpu0 := d.proc(b).CPU
	sent := make([]time.Time, n)
	for i := range n {
		sent[i] = e.send(fmt.Sprintf("many-%02d", i), ws(i), "c-many", prompt)
	}
	var atN Sample
	completed := 0
	var last time.Time
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i := range n {
		r, err := e.orch.WaitResponse(ctx, fmt.Sprintf("many-%02d", i))
		if err != nil {
			b.Fatalf("%v\n%s", err, d.log)
		}
		if r.Error == nil && r.Status() == "completed" {
			completed++
		}
		atN = append(atN, r.At.Sub(sent[i])-sleepFor)
		if r.At.After(last) {
			last = r.At
		}
	}
	peak := watch.Stop()
	p := d.proc(b)
	if hwm {
		peak = max(peak, p.PeakRSS)
	}

	logf(b, "docker run: 1, then %d at once; the same with the runner's hardening and mounts", n)
	plain, hardened := cliArgs(b)
	cliAt1, cliAtN := cliSleeps(b, plain, prompt, n)
	hardAt1, hardAtN := cliSleeps(b, hardened, prompt, n)

	c := &Concurrency{Workspaces: n, Completed: completed, SleepMs: Ms(sleepFor), WallMs: Ms(last.Sub(sent[0])),
		PeakRSSMiB: MiB(peak), At50: atN.Summarize(), At1: at1.Summarize(), Ratio: Ratio(atN.Median(), at1.Median()),
		CLIAt50: cliAtN.Summarize(), CLIAt1: cliAt1.Summarize(), HardenedAt50: hardAtN.Summarize(), HardenedAt1: hardAt1.Summarize(),
		CPUSeconds:  (p.CPU - cpu0).Seconds(),
		Description: fmt.Sprintf("overhead per turn = message → response at the orchestrator, less the agent's %s sleep; docker run: exit, less the sleep", sleepFor)}
	logf(b, "%d/%d completed, overhead p50 %.0f ms at %d vs %.0f ms at 1; docker run p50 %.0f ms at %d vs %.0f ms at 1 (hardened %.0f vs %.0f); peak RSS %.1f MiB",
		completed, n, c.At50.P50, n, c.At1.P50, c.CLIAt50.P50, n, c.CLIAt1.P50, c.HardenedAt50.P50, c.HardenedAt1.P50, c.PeakRSSMiB)
	b.ReportMetric(float64(completed), "completed")
	b.ReportMetric(c.At50.P50, "overhead-p50-ms-at-n")
	b.ReportMetric(c.At1.P50, "overhead-p50-ms-at-1")
	b.ReportMetric(c.PeakRSSMiB, "peak-rss-MiB")
	record(func(r *Results) { r.Concurrency = c })
}

// cliSleeps runs the sleeping agent through the Docker CLI once, then n at
// once, and returns the times less the sleep.
func cliSleeps(tb testing.TB, args func() []string, prompt string, n int) (at1, atN Sample) {
	at1 = Sample{cliSleep(tb, args(), prompt)}
	argv := make([][]string, n)
	for i := range argv {
		argv[i] = args()
	}
	atN = make(Sample, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { atN[i] = cliSleep(tb, argv[i], prompt) })
	}
	wg.Wait()
	return at1, atN
}

// cliSleep runs the sleeping agent through the Docker CLI and returns its
// time less the sleep.
func cliSleep(tb testing.TB, args []string, prompt string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	run, err := DockerCLI(ctx, []byte(prompt), args...)
	if err != nil {
		tb.Error(err)
	}
	return run.Total - sleepFor
}
