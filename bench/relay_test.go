package bench

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// relayEvents is how many events the relay scenario's agent prints.
const relayEvents = 200_000

// BenchmarkRelayThroughput is measurement 3: one agent prints 200,000
// events of the smallest real size (stream_event text deltas, 254 bytes:
// no well-formed CLI event is 200 bytes); how many per second reach the
// orchestrator, and the runner's peak RSS meanwhile. For reference, the same
// agent's output read by the Docker CLI into a pipe.
func BenchmarkRelayThroughput(b *testing.B) {
	e := newEnv(b, "relay", 20*time.Second)
	d := e.start("")
	const ws = "ws-relay"
	prompt := fmt.Sprintf("PROBE deltas %d 200", relayEvents)
	e.turn(d, "warm", ws, "c-warm", instantPrompt)

	// The same agent through the Docker CLI: how fast the output can be read at all.
	plain, _ := cliArgs(b)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cli, err := DockerCLI(ctx, []byte(prompt), plain()...)
	if err != nil {
		b.Fatal(err)
	}
	lineBytes := deltaLineBytes(cli.Stdout)

	pid := d.pid()
	hwm := ResetPeakRSS(pid) == nil
	watch := WatchRSS(pid, 10*time.Millisecond)
	cpu0 := d.proc(b).CPU
	logf(b, "relaying %d events", relayEvents)
	t0, resp := e.turn(d, "relay", ws, "c-relay", prompt)
	peak := watch.Stop()
	p := d.proc(b)
	if hwm {
		peak = max(peak, p.PeakRSS)
	}
	m, _ := e.orch.Message("relay")
	if m.Events < relayEvents || m.Gaps > 0 {
		b.Fatalf("%d events arrived (%d gaps), want at least %d", m.Events, m.Gaps, relayEvents)
	}
	window := m.LastEvent.Sub(m.FirstEvent)
	x := &Relay{Events: relayEvents, LineBytes: lineBytes, Seconds: window.Seconds(),
		EventsPerSec: float64(m.Events) / window.Seconds(),
		MiBPerSec:    float64(m.Events) * float64(lineBytes) / window.Seconds() / (1 << 20),
		AgentMs:      Ms(cli.Total), Posts: e.orch.Totals().Posts, PeakRSSMiB: MiB(peak),
		CPUSeconds: (p.CPU - cpu0).Seconds()}
	x.Met = x.EventsPerSec >= 50_000 && peak < 100<<20
	logf(b, "%.0f events/s over %s (message → response %s; docker run to a pipe %s), peak RSS %.1f MiB, runner CPU %.2f s",
		x.EventsPerSec, window.Round(time.Millisecond), resp.At.Sub(t0).Round(time.Millisecond), cli.Total.Round(time.Millisecond), x.PeakRSSMiB, x.CPUSeconds)
	b.ReportMetric(x.EventsPerSec, "events/s")
	b.ReportMetric(x.PeakRSSMiB, "peak-rss-MiB")
	record(func(r *Results) { r.Relay = x })
}

// deltaLineBytes is the size of the agent's delta lines, newline included.
func deltaLineBytes(out []byte) int {
	for line := range bytes.Lines(out) {
		if bytes.Contains(line, []byte(`"stream_event"`)) {
			return len(line)
		}
	}
	return 0
}
