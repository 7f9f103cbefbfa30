package sync

import (
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

// Once the shape was up to date, a long-poll that fails for longer than
// UnreadyAfter turns /readyz not ready with the reason, and ready again when
// Electric answers; the metrics give the streak and the last success.
func TestReadinessFollowsElectric(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(50*time.Millisecond))
	h := newHarness(t, srv, t.TempDir(), func(p *Params) { p.UnreadyAfter = 300 * time.Millisecond }).start()
	h.waitReady()
	if h.counter("claudette_intake_last_success_timestamp_seconds") <= 0 {
		t.Error("no last success time once up to date")
	}
	srv.Inject(electrictest.InternalError().Repeat(25))
	var why string
	eventually(t, "not ready", func() bool {
		var ok bool
		ok, why = h.ready()
		return !ok
	})
	if !strings.Contains(why, "every electric request failed for") || !strings.Contains(why, "500") {
		t.Errorf("reason %q", why)
	}
	if n := h.counter("claudette_intake_consecutive_failures"); n < 2 {
		t.Errorf("consecutive failures %v", n)
	}
	h.waitReady()
	if n := h.counter("claudette_intake_consecutive_failures"); n != 0 {
		t.Errorf("consecutive failures %v after recovery", n)
	}
}
