package bench

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// breakdownTurns is how many warm turns the breakdown traces.
const breakdownTurns = 9

// BenchmarkTurnBreakdown is measurement 2: where the time of one warm turn
// goes. The runner talks to the engine through EngineTrace, which times
// every API call (and the first byte on the attach stream); the checkout
// time comes from the runner's own metric; arrivals at the orchestrator
// close the picture. Medians over a few turns.
func BenchmarkTurnBreakdown(b *testing.B) {
	e := newEnv(b, "breakdown", 20*time.Second)
	trace, err := NewEngineTrace(b.TempDir(), "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = trace.Close() })
	d := e.start(trace.DockerHost(), "--sandbox-idle", "0") // the phases of a turn in a new sandbox
	const ws = "ws-breakdown"
	for i := range 3 {
		msg := fmt.Sprintf("warm-%d", i)
		e.turn(d, msg, ws, "c-"+msg, instantPrompt)
	}
	phases := map[string]Sample{}
	var order []string
	var calls []string
	for i := range breakdownTurns {
		msg := fmt.Sprintf("turn-%d", i)
		trace.Reset()
		before, _ := d.histogram(b, "claudette_workspace_prepare_duration_seconds", `checkout="existing"`)
		t0, resp := e.turn(d, msg, ws, "c-"+msg, instantPrompt)
		after, _ := d.histogram(b, "claudette_workspace_prepare_duration_seconds", `checkout="existing"`)
		tt := turnTrace{t0: t0, firstEvent: e.firstEvent(msg), response: resp.At, checkout: time.Duration((after - before) * 1e9)}
		all := trace.Calls()
		ph, names, err := tt.phases(all)
		if err != nil {
			b.Fatalf("turn %s: %v", msg, err)
		}
		if i == breakdownTurns-1 {
			m, _ := e.orch.Message(msg)
			logTimeline(b, tt, all, m)
		}
		for k, name := range names {
			phases[name] = append(phases[name], ph[k])
		}
		order, calls = names, tt.calls
	}
	bd := &Breakdown{Turns: breakdownTurns, EngineCalls: calls}
	for _, name := range order {
		bd.Phases = append(bd.Phases, Phase{Name: name, Ms: Ms(phases[name].Median())})
	}
	b.ReportMetric(Ms(phases[PhaseFirstEvent].Median()), "first-event-p50-ms")
	b.ReportMetric(float64(len(calls)), "engine-calls/turn")
	record(func(r *Results) { r.Breakdown = bd })
}

// turnTrace is what was seen of one turn.
type turnTrace struct {
	t0, firstEvent, response time.Time
	checkout                 time.Duration
	calls                    []string // the engine calls, paths generalised
}

var (
	containerPath = regexp.MustCompile(`^/containers/[^/]+(/[a-z]+)?$`)
	imagePath     = regexp.MustCompile(`^/images/.+/json$`)
)

// generalPath replaces ids and names in an engine API path.
func generalPath(p string) string {
	switch {
	case p == "/containers/create" || p == "/containers/json":
		return p
	case containerPath.MatchString(p):
		return containerPath.ReplaceAllString(p, "/containers/{id}$1")
	case imagePath.MatchString(p):
		return "/images/{ref}/json"
	}
	return p
}

// phases turns the engine calls of one turn into its phases, in order.
func (tt *turnTrace) phases(all []EngineCall) ([]time.Duration, []string, error) {
	var calls []EngineCall
	for _, c := range all {
		if c.Path == "/_ping" || c.Start.Before(tt.t0) { // the health loop's pings
			continue
		}
		calls = append(calls, c)
		tt.calls = append(tt.calls, c.Method+" "+generalPath(c.Path))
	}
	find := func(method, path string, nth int) (EngineCall, error) {
		for _, c := range calls {
			if c.Method == method && generalPath(c.Path) == path {
				if nth == 0 {
					return c, nil
				}
				nth--
			}
		}
		return EngineCall{}, fmt.Errorf("no %s %s among the engine calls %s", method, path, strings.Join(tt.calls, ", "))
	}
	var err error
	must := func(method, path string, nth int) EngineCall {
		c, e := find(method, path, nth)
		if e != nil && err == nil {
			err = e
		}
		return c
	}
	create := must("POST", "/containers/create", 0)
	verify := must("GET", "/containers/{id}/json", 0)
	start := must("POST", "/containers/{id}/start", 0)
	if err != nil {
		return nil, nil, err
	}
	// A turn through the sandbox's keeper (the runner's default) has no
	// attach stream, wait or remove of its own: its output comes from a file
	// and the container outlives the turn; with --sandbox-idle 0 it ends after
	// the response.
	attach, attachErr := find("POST", "/containers/{id}/attach", 0)
	image, imgErr := find("GET", "/images/{ref}/json", 0)
	var names []string
	var out []time.Duration
	add := func(name string, d time.Duration) {
		names = append(names, name)
		out = append(out, d)
	}
	add("message → first engine call (intake, queue, checkout)", calls[0].Start.Sub(tt.t0))
	add(PhaseCheckout, tt.checkout)
	engine := start.Duration() + create.Duration() + verify.Duration()
	if imgErr == nil {
		add("image check (GET /images/{ref}/json)", image.Duration())
		engine += image.Duration()
	}
	add(PhaseCreate, create.Duration())
	add("verify limits (inspect)", verify.Duration())
	if attachErr == nil {
		add("attach", attach.Header.Sub(attach.Start))
		engine += attach.Header.Sub(attach.Start)
	}
	add(PhaseStart, start.Duration())
	add("first engine call → started", start.End.Sub(calls[0].Start))
	add("  of which the runner between engine calls", start.End.Sub(calls[0].Start)-engine)
	if attachErr == nil && !attach.FirstByte.IsZero() {
		add(PhaseFirstByte, attach.FirstByte.Sub(start.End))
		add("first byte → first event at the orchestrator", tt.firstEvent.Sub(attach.FirstByte))
	} else {
		add(PhaseStartedToEvent, tt.firstEvent.Sub(start.End))
	}
	add(PhaseFirstEvent, tt.firstEvent.Sub(tt.t0))
	waitCall, waitErr := find("POST", "/containers/{id}/wait", 0)
	remove, removeErr := find("DELETE", "/containers/{id}", 0)
	if waitErr == nil && removeErr == nil && remove.End.Before(tt.response) {
		add(PhaseWait, waitCall.End.Sub(start.End))
		if inspect, err := find("GET", "/containers/{id}/json", 1); err == nil {
			add("inspect after exit", inspect.Duration())
		}
		add(PhaseRemove, remove.Duration())
		add("exit seen → removed", remove.End.Sub(waitCall.End))
		add(PhaseDelivered, tt.response.Sub(remove.End))
	} else {
		add(PhaseFirstEventToResponse, tt.response.Sub(tt.firstEvent))
	}
	add(PhaseResponse, tt.response.Sub(tt.t0))
	return out, names, nil
}

// logTimeline prints one turn's engine calls and arrivals, relative to the
// message, on stderr.
func logTimeline(tb testing.TB, tt turnTrace, calls []EngineCall, m Message) {
	type mark struct {
		at   time.Duration
		what string
	}
	var marks []mark
	at := func(t time.Time) time.Duration { return t.Sub(tt.t0) }
	for _, c := range calls {
		if c.Path == "/_ping" {
			continue
		}
		what := fmt.Sprintf("%s %s: %d, %.2f ms", c.Method, generalPath(c.Path), c.Status, Ms(c.Duration()))
		if !c.FirstByte.IsZero() {
			what += fmt.Sprintf(", first byte at %.2f ms", Ms(at(c.FirstByte)))
		}
		marks = append(marks, mark{at(c.Start), what})
	}
	for state, t := range m.States {
		marks = append(marks, mark{at(t), "state " + state + " at the orchestrator"})
	}
	marks = append(marks, mark{at(tt.firstEvent), "first event at the orchestrator"}, mark{at(tt.response), "response at the orchestrator"})
	slices.SortStableFunc(marks, func(a, b mark) int { return cmp.Compare(a.at, b.at) })
	var b strings.Builder
	for _, mk := range marks {
		fmt.Fprintf(&b, "\n  %8.2f ms  %s", Ms(mk.at), mk.what)
	}
	logf(tb, "timeline of the last turn (checkout %.3f ms):%s", Ms(tt.checkout), b.String())
}
