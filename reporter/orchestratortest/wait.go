package orchestratortest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// WaitFor waits until cond holds for the accepted items (in the order
// received, duplicates included), and fails the test with a summary of what
// was received when timeout passes first. Call it from the test's goroutine.
func (o *Orchestrator) WaitFor(tb testing.TB, timeout time.Duration, cond func(items []Item) bool) {
	tb.Helper()
	o.wait(tb, timeout, func() bool { return cond(o.Items()) })
}

// WaitRequests is WaitFor on every request received, accepted or not.
func (o *Orchestrator) WaitRequests(tb testing.TB, timeout time.Duration, cond func(reqs []Request) bool) {
	tb.Helper()
	o.wait(tb, timeout, func() bool { return cond(o.Requests()) })
}

func (o *Orchestrator) wait(tb testing.TB, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		ch := o.changed
		o.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("orchestratortest: condition not met after %s; %s", timeout, o.Summary())
		}
	}
}

// Summary describes what was received, for failure messages.
func (o *Orchestrator) Summary() string {
	reqs := o.Requests()
	items := o.Items()
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d accepted items", len(reqs), len(items))
	from := max(0, len(reqs)-5)
	if from > 0 {
		fmt.Fprintf(&b, "; last %d requests:", len(reqs)-from)
	} else if len(reqs) > 0 {
		b.WriteString("; requests:")
	}
	for _, r := range reqs[from:] {
		status := fmt.Sprint(r.Reply.status())
		if r.Reply.Drop {
			status = "dropped"
		}
		fmt.Fprintf(&b, " #%d %d items -> %s;", r.Index, len(r.Items), status)
	}
	if v := o.Violations(); len(v) > 0 {
		fmt.Fprintf(&b, " violations: %s", strings.Join(v, "; "))
	}
	return b.String()
}
