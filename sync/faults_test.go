package sync

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

func TestRetriesTransientFailures(t *testing.T) {
	cases := map[string]struct {
		fault  electrictest.Fault
		reason string
	}{
		"503 with retry-after":  {electrictest.Unavailable("0"), "server"},
		"500":                   {electrictest.InternalError(), "server"},
		"429":                   {electrictest.TooManyRequests("0"), "throttled"},
		"408":                   {electrictest.Status(http.StatusRequestTimeout), "throttled"},
		"dropped mid-body":      {electrictest.DropMidBody(), "network"},
		"dropped mid-body live": {electrictest.DropMidBody().OnLive(), "network"},
		"hung request":          {electrictest.Hang(), "network"},
		"body not an array":     {electrictest.Fault{Status: 200, Body: `{"oops":1}`}, "protocol"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
			insert(srv, "a")
			srv.Inject(tc.fault.Repeat(3))
			h := newHarness(t, srv, t.TempDir(), func(p *Params) { p.RequestTimeout = 500 * time.Millisecond })
			h.start()
			h.waitReady()
			insert(srv, "b")
			h.waitIDs("a", "b")
			if n := srv.PendingFaults(); n != 0 {
				t.Fatalf("%d faults never answered", n)
			}
			if got := h.counter("claudette_intake_retries_total", "reason", tc.reason); got != 3 {
				t.Fatalf("retries{reason=%s} = %v, want 3", tc.reason, got)
			}
			// One warning for the streak, then quiet retries, then one recovery line.
			if got := h.logs.FilterMessage("electric request failed; retrying").FilterField(zapInt("attempt", 1)).Len(); got != 1 {
				t.Fatalf("streak start logged %d times, want 1", got)
			}
			recovered := h.logs.FilterMessage("electric requests succeed again").All()
			if len(recovered) != 1 || recovered[0].ContextMap()["attempts"] != int64(4) {
				t.Fatalf("recovery log %v, want one with attempts=4", recovered)
			}
		})
	}
}

func TestRetryAfterIsAFloor(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	insert(srv, "a")
	srv.Inject(electrictest.Unavailable("1"))
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitIDs("a")
	reqs := shapeRequests(srv)
	if reqs[0].Status != 503 {
		t.Fatalf("first answer %d, want the injected 503", reqs[0].Status)
	}
	// The backoff alone would retry within 10 ms; Retry-After: 1 holds it for a second.
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Fatalf("retried %v after a 503 with Retry-After: 1", gap)
	}
}

func TestMissingHeadersAreProtocolErrors(t *testing.T) {
	cases := map[string]struct {
		fault electrictest.Fault
		live  bool
	}{
		"handle":          {electrictest.OmitHeaders("electric-handle"), false},
		"offset":          {electrictest.OmitHeaders("electric-offset"), false},
		"schema non-live": {electrictest.OmitHeaders("electric-schema").OnNonLive(), false},
		"cursor live":     {electrictest.OmitHeaders("electric-cursor").OnLive(), true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
			insert(srv, "a")
			srv.Inject(tc.fault.Repeat(1000))
			h := newHarness(t, srv, t.TempDir(), func(p *Params) { p.Backoff.Base, p.Backoff.Cap = 50*time.Millisecond, 50*time.Millisecond })
			h.start()
			header := tc.fault.OmitHeaders[0]
			eventually(t, "not ready naming "+header, func() bool {
				ok, reason := h.ready()
				return !ok && strings.Contains(reason, header)
			})
			insert(srv, "b")
			eventually(t, "a few failed attempts", func() bool { return srv.PendingFaults() < 995 })
			want := []string{}
			if tc.live {
				want = []string{"a"} // the snapshot is not live: it arrived
			}
			if got := h.rec.ids(); !equal(got, want) {
				t.Fatalf("dispatched %v from answers missing %s, want %v", got, header, want)
			}
			srv.ClearFaults()
			h.waitIDs("a", "b")
			h.waitReady()
		})
	}
}

func TestLegacy204IsUpToDate(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(300*time.Millisecond))
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitReady()
	srv.Inject(electrictest.Legacy204().Repeat(2))
	eventually(t, "two 204s", func() bool { return srv.PendingFaults() == 0 })
	insert(srv, "a")
	h.waitIDs("a")
	reqs := shapeRequests(srv)
	for i, r := range reqs {
		if r.Status == 204 && i+1 < len(reqs) {
			next := reqs[i+1]
			if !next.Live() || next.Query.Get("offset") != r.Query.Get("offset") || next.Query.Get("handle") != r.Query.Get("handle") {
				t.Fatalf("request after a 204: %v, want the same live position as %v", next.Query, r.Query)
			}
		}
	}
	if ok, reason := h.ready(); !ok {
		t.Fatalf("not ready after 204s: %s", reason)
	}
}

func TestAuthAndRejectionsFailReadinessAndRetrySlowly(t *testing.T) {
	cases := map[string]struct {
		fault electrictest.Fault
		want  string
	}{
		"401":        {electrictest.Unauthorized(), "CLAUDETTE_RUNNER_TOKEN"},
		"403":        {electrictest.Forbidden(), `runner "runner-1"`},
		"400 where":  {electrictest.BadRequest("where", "unknown reference runner_id"), "check runner id"},
		"400 table":  {electrictest.BadRequest("table", "Table \"public.runner_messages\" does not exist."), "does not exist"},
		"404 by URL": {electrictest.Status(http.StatusNotFound), "--electric-url"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
			insert(srv, "a")
			srv.Inject(tc.fault.Repeat(4))
			h := newHarness(t, srv, t.TempDir()).start()
			eventually(t, "not ready with the cause", func() bool {
				ok, reason := h.ready()
				return !ok && strings.Contains(reason, tc.want)
			})
			h.waitIDs("a")
			h.waitReady()
			reqs := shapeRequests(srv)
			for i := 1; i < 4; i++ {
				if gap := reqs[i].At.Sub(reqs[i-1].At); gap < 150*time.Millisecond {
					t.Fatalf("retry %d came %v after a %d, want the slow retry (150ms)", i, gap, reqs[i-1].Status)
				}
			}
		})
	}
}

func TestWrongTokenUntilTheProxyIsFixed(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond), electrictest.WithBearerToken("other-token"))
	insert(srv, "a")
	h := newHarness(t, srv, t.TempDir()).start()
	eventually(t, "not ready: token", func() bool {
		ok, reason := h.ready()
		return !ok && strings.Contains(reason, "401")
	})
	time.Sleep(500 * time.Millisecond)
	if n := len(shapeRequests(srv)); n > 5 {
		t.Fatalf("%d requests in 0.5 s with a bad token, want slow retries", n)
	}
	srv.SetBearerToken(testToken)
	h.waitIDs("a")
	h.waitReady()
	for _, e := range h.logs.All() {
		for _, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, testToken) {
				t.Fatalf("token in log %q", e.Message)
			}
		}
	}
}

func TestOffsetOutOfBoundsRereadsTheShape(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	insert(srv, "a")
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitIDs("a")
	h.waitReady()
	srv.Inject(electrictest.BadRequest("offset", "out of bounds for this shape"))
	eventually(t, "the 400 answered", func() bool { return srv.PendingFaults() == 0 })
	insert(srv, "b")
	h.waitIDs("a", "b")
	reread := false
	reqs := shapeRequests(srv)
	for i, r := range reqs {
		if r.Status == 400 && reqs[i+1].Query.Get("offset") == "-1" {
			reread = true
		}
	}
	if !reread {
		t.Fatal("no read from -1 after an out-of-bounds 400")
	}
	if ok, reason := h.ready(); !ok {
		t.Fatalf("not ready after a position 400: %s", reason)
	}
}

func TestRealOutOfBoundsOffsetFromTheServer(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	dir := t.TempDir()
	insert(srv, "a")
	h := newHarness(t, srv, dir).start()
	h.waitIDs("a")
	h.waitReady()
	h.stop()
	// A saved offset the server's log never reached (e.g. the server lost its storage
	// but kept the handle): the server answers 400 and the client re-reads.
	j, err := openJournal(dir, time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	shape := h.counterlessShapeKey()
	pos, _, _ := j.position(shape)
	if _, _, err := j.commit(nil, nil, position{Handle: pos.Handle, Offset: "99999999999_0"}, shape, time.Now()); err != nil {
		t.Fatal(err)
	}
	_ = j.close()
	h2 := newHarness(t, srv, dir).start()
	insert(srv, "b")
	h2.waitIDs("b")
	reread := false
	reqs := shapeRequests(srv)
	for i, r := range reqs[:len(reqs)-1] {
		if r.Query.Get("offset") == "99999999999_0" && r.Status == 400 && reqs[i+1].Query.Get("offset") == "-1" {
			reread = true
		}
	}
	if !reread {
		t.Fatal("no 400 for the out-of-bounds offset followed by a read from -1")
	}
}

func (h *harness) counterlessShapeKey() string {
	base, err := shapeURL(h.cfg.ElectricURL)
	if err != nil {
		h.t.Fatal(err)
	}
	return shapeKey(base, h.cfg.RunnerID)
}
