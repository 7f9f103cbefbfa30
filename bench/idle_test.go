package bench

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// BenchmarkIdle is measurement 5: the runner's CPU over -idle (60 s) with
// nothing to do while it live-polls Electric (held 20 s, as the real one
// does) and sends its heartbeats (default interval), after one turn in each
// of -workspaces (50) workspaces, whose sandboxes stay warm meanwhile.
func BenchmarkIdle(b *testing.B) {
	n := *parallel
	e := newEnv(b, "idle", 20*time.Second)
	d := e.start("", "--max-concurrent", strconv.Itoa(n))
	for i := range n {
		e.send(fmt.Sprintf("warm-%02d", i), fmt.Sprintf("ws-idle-%02d", i), "c-warm", instantPrompt)
	}
	for i := range n {
		e.completed(d, fmt.Sprintf("warm-%02d", i))
	}
	logf(b, "%d sandboxes kept warm", n)
	time.Sleep(5 * time.Second) // let the turn's last delivery and the engine settle
	window := *idleFlag
	logf(b, "measuring %s of idle", window)
	cpu := func() time.Duration { // ns from schedstat; 10 ms ticks from stat where that is missing
		if c, err := TaskCPU(d.pid()); err == nil {
			return c
		}
		return d.proc(b).CPU
	}
	c0, reqs0, posts0 := cpu(), e.electric.RequestCount(), e.orch.Totals().Posts
	began := time.Now()
	time.Sleep(window)
	c1, reqs1, posts1 := cpu(), e.electric.RequestCount(), e.orch.Totals().Posts
	elapsed := time.Since(began)
	i := &Idle{Seconds: elapsed.Seconds(), CPUPercent: float64(c1-c0) / float64(elapsed) * 100,
		RSSMiB: MiB(d.proc(b).RSS), ElectricRequests: reqs1 - reqs0, Posts: posts1 - posts0, Sandboxes: n}
	i.Met = i.CPUPercent < 1
	logf(b, "%.3f %% of a core (%s CPU), %d Electric requests, %d orchestrator posts, RSS %.1f MiB",
		i.CPUPercent, (c1 - c0).Round(time.Microsecond), i.ElectricRequests, i.Posts, i.RSSMiB)
	b.ReportMetric(i.CPUPercent, "cpu-%")
	b.ReportMetric(i.RSSMiB, "rss-MiB")
	record(func(r *Results) { r.Idle = i })
}
