package sync

import (
	"errors"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/loopfs"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
	"go.uber.org/zap/zapcore"
)

// switchGate refuses while its error is set.
type switchGate struct {
	mu  stdsync.Mutex
	err error
}

func (g *switchGate) Accepting() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *switchGate) set(err error) {
	g.mu.Lock()
	g.err = err
	g.mu.Unlock()
}

// While what takes the messages over cannot record them (the gate), the
// intake takes none: nothing is journaled or dispatched and /readyz says
// why, logged once; once it can, each is dispatched once, in order.
func TestIntakeTakesNothingWhileTheGateRefuses(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(100*time.Millisecond), electrictest.WithBearerToken(testToken))
	g := &switchGate{}
	h := newHarness(t, srv, t.TempDir(), func(p *Params) { p.Gate = g; p.MinFree = -1 })
	h.start()
	insert(srv, "a")
	h.waitIDs("a")
	h.waitReady()

	g.set(errors.New("turn records: no space left on device"))
	insert(srv, "b")
	insert(srv, "c")
	eventually(t, "refusals", func() bool { return h.counter("claudette_intake_retries_total", "reason", "refused") >= 3 })
	if got := h.rec.ids(); !equal(got, []string{"a"}) {
		t.Fatalf("dispatched while the gate refused: %v", got)
	}
	if ok, reason := h.ready(); ok || !strings.Contains(reason, "no space left") {
		t.Fatalf("readiness while refusing: %v %q", ok, reason)
	}
	g.set(nil)
	h.waitIDs("a", "b", "c")
	h.waitReady()
	refusals := 0
	for _, e := range h.logs.FilterMessage("electric request failed; retrying").All() {
		if e.Level >= zapcore.WarnLevel && e.ContextMap()["reason"] == "refused" {
			refusals++
		}
	}
	if refusals != 1 {
		t.Fatalf("%d refusal log lines at warn or above, want 1", refusals)
	}
	// Nothing of b and c was journaled while refused: a restart on the same
	// journal would otherwise have handed them over; here they came once.
	h.stop()
	h2 := newHarness(t, srv, h.cfg.DataDir, func(p *Params) { p.MinFree = -1 }).start()
	h2.waitReady()
	if got := h2.rec.ids(); len(got) != 0 {
		t.Fatalf("handed over again after a restart: %v", got)
	}
}

// A data dir filled to its last byte: the intake takes no new message (the
// journal could still commit in its free pages), then takes each once
// space is back.
func TestIntakeTakesNothingOnAFullDataDir(t *testing.T) {
	fs := loopfs.New(t, 32<<20)
	srv := electrictest.New(t, electrictest.WithLiveHold(100*time.Millisecond), electrictest.WithBearerToken(testToken))
	h := newHarness(t, srv, fs.Dir)
	h.start()
	insert(srv, "a")
	h.waitIDs("a")
	h.waitReady()

	fs.Fill(t)
	insert(srv, "b")
	eventually(t, "refusals", func() bool { return h.counter("claudette_intake_retries_total", "reason", "refused") >= 2 })
	if got := h.rec.ids(); !equal(got, []string{"a"}) {
		t.Fatalf("dispatched on a full data dir: %v", got)
	}
	if ok, reason := h.ready(); ok || !strings.Contains(reason, "bytes free") {
		t.Fatalf("readiness on a full data dir: %v %q", ok, reason)
	}
	fs.Release(t)
	insert(srv, "c")
	h.waitIDs("a", "b", "c")
	h.waitReady()
}
