package sandbox_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
)

// TestHugeLine: a 100 MiB line is cut at the line limit and marked, the
// lines after it arrive intact, and the runner never holds the line.
func TestHugeLine(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sandbox.OutputLimit = 1 << 30
	e := startManager(t, cfg)
	stop := memPeak()
	lines, st := collect(t, e.run(e.spec("ws-huge", "PROBE hugeline 100m\nPROBE report\n")))
	peak := stop()
	var cut []sandbox.Line
	for _, l := range lines {
		if l.Truncated {
			cut = append(cut, l)
		}
	}
	if len(cut) != 1 || len(cut[0].Data) != int(cfg.Sandbox.LineLimit) {
		t.Fatalf("want one line cut at %d bytes, got %d cut lines", cfg.Sandbox.LineLimit, len(cut))
	}
	f := findings(t, lines)
	if len(f) != 2 || f[0]["ok"] != true || f[1]["uid"] != 1000.0 {
		t.Errorf("the lines after the huge one are not intact: %v", f)
	}
	if lineType(lines[len(lines)-1]) != "result" || !st.OK() {
		t.Errorf("last line %q, status %+v", lines[len(lines)-1].Data, st)
	}
	t.Logf("heap in use peaked at %.1f MiB while a 100 MiB line went through", float64(peak)/(1<<20))
	if peak > 48<<20 {
		t.Errorf("heap in use peaked at %d bytes: the reader holds the huge line", peak)
	}
}

// TestOutputLimit: a flood stops the turn at the output limit with a clear
// reason; what was delivered fits the limit; memory stays bounded.
func TestOutputLimit(t *testing.T) {
	e := startManager(t, testConfig(t))
	stop := memPeak()
	lines, st := collect(t, e.run(e.spec("ws-flood", "PROBE flood 2g\n")))
	peak := stop()
	var delivered int64
	for _, l := range lines {
		delivered += int64(len(l.Data)) + 1
	}
	limit := int64(e.cfg.Sandbox.OutputLimit)
	if st.Kind != sandbox.OutputLimit || st.Reason != "stopped: output limit" {
		t.Errorf("status %+v, want stopped on the output limit", st)
	}
	if delivered > limit+1 || delivered < limit-2048 || st.OutputBytes < limit {
		t.Errorf("delivered %d bytes, read %d, limit %d", delivered, st.OutputBytes, limit)
	}
	t.Logf("delivered %d lines, %d bytes; heap in use peaked at %.1f MiB", len(lines), delivered, float64(peak)/(1<<20))
	if peak > 48<<20 {
		t.Errorf("heap in use peaked at %d bytes", peak)
	}
}

// TestBackpressure: a consumer that stops reading for a while slows the
// container down; every line arrives, in order, none twice.
func TestBackpressure(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sandbox.OutputLimit = 64 << 20
	e := startManager(t, cfg)
	const n = 5000
	r := e.run(e.spec("ws-slow", "PROBE events "+strconv.Itoa(n)+" 2k\n"))
	time.Sleep(2 * time.Second) // nobody reads: the engine's buffer fills, the agent blocks
	seqRE := regexp.MustCompile(`event (\d{10}) `)
	next := 1
	var count int
	for l := range r.Lines() {
		count++
		if count%500 == 0 {
			time.Sleep(50 * time.Millisecond) // a slow consumer
		}
		m := seqRE.FindSubmatch(l.Data)
		if m == nil {
			continue
		}
		seq, _ := strconv.Atoi(string(m[1]))
		if seq != next {
			t.Fatalf("event %d arrived, want %d", seq, next)
		}
		next++
	}
	if next != n+1 {
		t.Errorf("got %d events, want %d", next-1, n)
	}
	if st := r.Wait(t.Context()); !st.OK() {
		t.Errorf("status %+v", st)
	}
}
