package sync

import (
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

func TestNoBusyLoopWhenIdle(t *testing.T) {
	const hold, idle = 100 * time.Millisecond, 2 * time.Second
	srv := electrictest.New(t, electrictest.WithLiveHold(hold))
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitReady()
	before := srv.RequestCount()
	time.Sleep(idle)
	n := srv.RequestCount() - before
	// One request per hold, plus slack for a loaded machine: never hundreds.
	if limit := int(idle/hold) + 5; n > limit {
		t.Fatalf("%d requests in %v idle with a %v hold, want at most %d", n, idle, hold, limit)
	}
	if n == 0 {
		t.Fatal("no live request while idle")
	}
	for _, r := range shapeRequests(srv)[before:] {
		if !r.Live() || (r.Status != 200 && r.Status != 0) {
			t.Fatalf("idle request live=%v status %d, want live long-polls answered 200", r.Live(), r.Status)
		}
	}
}

func TestNoBusyLoopWhenTheServerDoesNotHold(t *testing.T) {
	// A proxy that answers live requests at once must not turn the runner into a busy loop.
	const guard, idle = 100 * time.Millisecond, time.Second
	srv := electrictest.New(t, electrictest.WithLiveHold(0))
	h := newHarness(t, srv, t.TempDir(), func(p *Params) { p.MinLivePoll = guard }).start()
	h.waitReady()
	before := srv.RequestCount()
	time.Sleep(idle)
	if n, limit := srv.RequestCount()-before, int(idle/guard)+5; n > limit {
		t.Fatalf("%d requests in %v against a server that does not hold, want at most %d", n, idle, limit)
	}
	insert(srv, "a")
	h.waitIDs("a")
}
