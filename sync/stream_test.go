package sync

import (
	"strconv"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

func TestInitialSyncIsChunkedThenLive(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithChunkRows(3), electrictest.WithLiveHold(300*time.Millisecond),
		electrictest.WithBearerToken(testToken))
	first := ids("m", 7)
	for _, id := range first {
		insert(srv, id)
	}
	h := newHarness(t, srv, t.TempDir()).start()
	h.waitIDs(first...)
	h.waitReady()
	insert(srv, "late")
	h.waitIDs(append(first, "late")...)

	reqs := shapeRequests(srv)
	if got := reqs[0].Query.Get("offset"); got != "-1" || reqs[0].Query.Has("handle") || reqs[0].Live() {
		t.Fatalf("first request: offset %q handle %q live %v, want -1, none, not live", got, reqs[0].Query.Get("handle"), reqs[0].Live())
	}
	sawLive, lastCursor := false, int64(0)
	for n, r := range reqs {
		q := r.Query
		if q.Get("table") != "runner_messages" || q.Get("where") != "runner_id = $1" || q.Get("params[1]") != testRunner {
			t.Fatalf("request %d: shape definition %v", n, q)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Fatalf("request %d: Authorization %q", n, got)
		}
		if n > 0 && (q.Get("handle") == "" || q.Get("offset") == "-1") {
			t.Fatalf("request %d: handle %q offset %q, want the position from the previous answer", n, q.Get("handle"), q.Get("offset"))
		}
		if r.Live() {
			sawLive = true
			if c := q.Get("cursor"); c != "" {
				v, err := strconv.ParseInt(c, 10, 64)
				if err != nil || v <= lastCursor {
					t.Fatalf("request %d: cursor %q not above the previous %d", n, c, lastCursor)
				}
				lastCursor = v
			}
		} else if sawLive {
			t.Fatalf("request %d: not live after the stream went live", n)
		}
	}
	// 7 rows in chunks of 3: three snapshot answers, then an up-to-date one, then live.
	if !sawLive || reqs[1].Query.Get("offset") != "0_2" || reqs[2].Query.Get("offset") != "0_5" || reqs[3].Query.Get("offset") != "0_inf" {
		t.Fatalf("snapshot chunk offsets: %q %q %q", reqs[1].Query.Get("offset"), reqs[2].Query.Get("offset"), reqs[3].Query.Get("offset"))
	}
	if got := h.counter("claudette_intake_messages_dispatched_total"); got != 8 {
		t.Fatalf("dispatched metric %v, want 8", got)
	}
	if got := h.counter("claudette_intake_rows_received_total", "operation", "insert"); got != 8 {
		t.Fatalf("rows received metric %v, want 8", got)
	}
}
