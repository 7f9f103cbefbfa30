package reporter

import (
	"fmt"
	"time"
)

// outage follows the orchestrator's failures in a row: once every POST has
// failed, been refused or rejected for Tuning.UnreadyAfter, /readyz says so
// with the last reason, until one is accepted again. The metrics give the
// last success and the length of the streak.
type outage struct {
	fails int
	since time.Time // first failure of the streak
}

func (o *outage) observe(r *Reporter, res postResult) {
	if res.outcome == outcomeDelivered {
		o.fails, o.since = 0, time.Time{}
		r.m.failures.Set(0)
		r.m.lastSuccess.SetToCurrentTime()
		return // the sender marks the component ready
	}
	now := time.Now()
	if o.fails == 0 {
		o.since = now
	}
	o.fails++
	r.m.failures.Set(float64(o.fails))
	if res.outcome == outcomeUnauthorized {
		return // not ready at once, with its own reason
	}
	if d := now.Sub(o.since); d >= r.tune.UnreadyAfter {
		r.ready.NotReady(fmt.Sprintf("every delivery to the orchestrator failed for %s (%d attempts), last: %s",
			d.Round(time.Second), o.fails, outageReason(res)))
	}
}

func outageReason(res postResult) string {
	switch {
	case res.err != nil:
		return clipReason(res.err.Error())
	case res.status != 0:
		return fmt.Sprintf("HTTP %d %s", res.status, clipReason(string(res.body)))
	}
	return res.outcome
}

func clipReason(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
