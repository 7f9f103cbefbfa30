package sync

import (
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

func TestRotationWhileLiveIsHeldRefetchesWithoutRedispatch(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(5*time.Second))
	insert(srv, "a")
	insert(srv, "b")
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitIDs("a", "b")
	h.waitReady()
	old := shapeRequests(srv)[len(shapeRequests(srv))-1].Query.Get("handle")
	// Wait for a live request to be held, then rotate under it.
	eventually(t, "a held live request", func() bool {
		rs := srv.Requests()
		last := rs[len(rs)-1]
		return last.Live() && last.Status == 0
	})
	srv.Rotate()
	insert(srv, "c")
	h.waitIDs("a", "b", "c")

	var refetch *electrictest.Request
	reqs := shapeRequests(srv)
	for i, r := range reqs {
		if r.Status == 409 {
			refetch = &reqs[i+1]
			break
		}
	}
	if refetch == nil {
		t.Fatal("no 409 recorded")
	}
	q := refetch.Query
	if q.Get("offset") != "-1" || q.Get("expired_handle") != old || q.Get("cache-buster") == "" || refetch.Live() {
		t.Fatalf("request after 409: %v, want offset -1, expired_handle %s, a cache-buster, not live", q, old)
	}
	if q.Get("handle") == old || q.Get("handle") == "" {
		t.Fatalf("request after 409 uses handle %q, want the new one", q.Get("handle"))
	}
	if got := h.counter("claudette_intake_duplicates_dropped_total"); got != 2 {
		t.Fatalf("duplicates dropped %v, want 2 (a and b re-read)", got)
	}
	if got := h.counter("claudette_intake_must_refetch_total"); got != 1 {
		t.Fatalf("must-refetch metric %v, want 1", got)
	}
}

func TestRotationWithoutHandleUsesNextHandle(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(5*time.Second))
	insert(srv, "a")
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitIDs("a")
	h.waitReady()
	eventually(t, "a held live request", func() bool {
		rs := srv.Requests()
		return rs[len(rs)-1].Live() && rs[len(rs)-1].Status == 0
	})
	old := srv.Handles()[0]
	srv.RotateWithoutHandle()
	insert(srv, "b")
	h.waitIDs("a", "b")
	found := false
	for _, r := range shapeRequests(srv) {
		if r.Query.Get("handle") == old+"-next" && r.Query.Get("offset") == "-1" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no request with handle %s-next after a 409 without a handle", old)
	}
}

func TestMustRefetchStormDispatchesNothingTwice(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond), electrictest.WithChunkRows(2))
	h := newHarness(t, srv, t.TempDir()).start()
	want := ids("s", 30)
	for n, id := range want {
		insert(srv, id)
		switch n % 3 {
		case 0:
			srv.Rotate()
		case 1:
			srv.RotateWithoutHandle()
		}
		if n%5 == 0 {
			// A 409 from something in between (a proxy, a stale cache) that the
			// server does not back with a new shape: the client must still converge.
			srv.Inject(electrictest.Status(409).Repeat(2))
		}
	}
	h.waitIDs(want...)
	// Everything settles: more rotations re-read all 30 rows and dispatch none of them.
	for range 5 {
		srv.Rotate()
	}
	insert(srv, "last")
	h.waitIDs(append(want, "last")...)
	if got := h.counter("claudette_intake_must_refetch_total"); got < 10 {
		t.Fatalf("must-refetch metric %v, want the storm counted", got)
	}
	if got := h.counter("claudette_intake_duplicates_dropped_total"); got == 0 {
		t.Fatal("no duplicate dropped: the storm did not re-read anything")
	}

}

func TestRestartResumesWithoutRedispatch(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond), electrictest.WithBearerToken(testToken))
	dir := t.TempDir()
	insert(srv, "a")
	insert(srv, "b")
	h := newHarness(t, srv, dir).start()
	h.waitIDs("a", "b")
	h.waitReady()
	insert(srv, "c")
	h.waitIDs("a", "b", "c")
	h.stop()
	// The last request of the first run is the position it saved.
	reqs := shapeRequests(srv)
	handle := reqs[len(reqs)-1].Query.Get("handle")
	before := len(reqs)

	// Inserted and deleted while the runner is down.
	insert(srv, "d")
	insert(srv, "e")
	insert(srv, "gone")
	srv.Delete("gone")
	srv.Delete("a")

	h2 := newHarness(t, srv, dir).start()
	h2.waitIDs("d", "e")
	eventually(t, "withdrawal of a", func() bool { return equal(h2.rec.withdrawals(), []string{"a"}) })
	first := shapeRequests(srv)[before]
	if first.Query.Get("handle") != handle || first.Query.Get("offset") == "-1" || first.Live() {
		t.Fatalf("first request after restart: %v, want handle %s at the saved offset, not live", first.Query, handle)
	}
	h2.waitReady()
	insert(srv, "f")
	h2.waitIDs("d", "e", "f")
	if got := h2.counter("claudette_intake_duplicates_dropped_total"); got != 0 {
		t.Fatalf("duplicates %v after a clean resume, want 0", got)
	}
}

func TestRestartAfterShapeRotatedWhileDown(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	dir := t.TempDir()
	insert(srv, "a")
	insert(srv, "b")
	h := newHarness(t, srv, dir).start()
	h.waitIDs("a", "b")
	h.stop()
	srv.Rotate()
	insert(srv, "c")

	h2 := newHarness(t, srv, dir).start()
	h2.waitIDs("c")
	h2.waitReady()
	if got := h2.counter("claudette_intake_duplicates_dropped_total"); got != 2 {
		t.Fatalf("duplicates %v, want 2 (a and b re-read after the 409)", got)
	}
	if ids := h2.rec.ids(); len(ids) != 1 {
		t.Fatalf("dispatched %v after restart, want only c", ids)
	}
}

func TestChangedRunnerIDIgnoresSavedPosition(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	dir := t.TempDir()
	insert(srv, "a")
	h := newHarness(t, srv, dir).start()
	h.waitIDs("a")
	h.stop()
	srv.InsertMessage("other-1", "runner-2", "ws-1", request("x"))
	before := len(shapeRequests(srv))
	h2 := newHarness(t, srv, dir, func(p *Params) { p.Config.RunnerID = "runner-2" }).start()
	h2.waitIDs("other-1")
	// The first runner's held live request may be recorded after `before`: look
	// at the first request the second runner made.
	for _, r := range shapeRequests(srv)[before:] {
		if r.Query.Get("params[1]") != "runner-2" {
			continue
		}
		if r.Query.Get("offset") != "-1" {
			t.Fatalf("first request for another runner id: %v, want a fresh read", r.Query)
		}
		return
	}
	t.Fatal("no request for runner-2")
}

func TestDeletesWithdrawAndUpdatesAreIgnored(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitReady()
	insert(srv, "a")
	h.waitIDs("a")
	srv.Update("a", map[string]any{"workspace_id": "ws-2"})
	srv.InsertMessage("bad", testRunner, "ws-1", []byte("not json"))
	srv.Delete("bad")
	srv.Delete("a")
	eventually(t, "withdrawal of a", func() bool { return equal(h.rec.withdrawals(), []string{"a"}) })
	// A row moved away to another runner reaches this shape as a delete.
	insert(srv, "b")
	h.waitIDs("a", "b")
	srv.Update("b", map[string]any{"runner_id": "runner-9"})
	eventually(t, "withdrawal of b", func() bool { return equal(h.rec.withdrawals(), []string{"a", "b"}) })
	if got := h.counter("claudette_intake_rows_received_total", "operation", "update"); got != 1 {
		t.Fatalf("updates received %v, want 1", got)
	}
	if ids := h.rec.ids(); !equal(ids, []string{"a", "b"}) {
		t.Fatalf("dispatched %v", ids)
	}
	if !strings.Contains(h.rec.responses()[0].Error.Message, "parse error") {
		t.Fatalf("answer to the bad row: %+v", h.rec.responses()[0])
	}
}

func TestSpurious409WithoutANewShapeConverges(t *testing.T) {
	// A 409 from something in front of Electric: the server still serves the
	// old handle, which the client first takes for a stale cache, then trusts.
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	insert(srv, "a")
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitIDs("a")
	h.waitReady()
	srv.Inject(electrictest.Status(409).OnLive())
	eventually(t, "the 409 answered", func() bool { return srv.PendingFaults() == 0 })
	insert(srv, "b")
	h.waitIDs("a", "b")
	if got := h.counter("claudette_intake_retries_total", "reason", "stale"); got != 4 {
		t.Fatalf("stale answers %v, want 4 (then the client stops expecting a new handle)", got)
	}
	var busters []string
	for _, r := range shapeRequests(srv) {
		if b := r.Query.Get("cache-buster"); b != "" {
			busters = append(busters, b)
		}
	}
	if len(busters) < 4 || busters[0] == busters[1] {
		t.Fatalf("cache busters %v, want a fresh one per retry", busters)
	}
}
