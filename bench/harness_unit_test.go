package bench

// Unit tests of the harness: they run in the normal test command and take
// well under a second; the scenarios (Benchmark*) never do.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSamplePercentilesAreNearestRank(t *testing.T) {
	var s Sample
	for i := 1; i <= 20; i++ {
		s = append(s, time.Duration(21-i)*time.Millisecond) // unsorted
	}
	tests := map[string]struct {
		got, want time.Duration
	}{
		"p50": {s.Median(), 10 * time.Millisecond},
		"p95": {s.Percentile(95), 19 * time.Millisecond},
		"max": {s.Max(), 20 * time.Millisecond},
		"min": {s.Min(), time.Millisecond},
		"p1":  {s.Percentile(1), time.Millisecond},
	}
	for name, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}
	if s[0] != 20*time.Millisecond {
		t.Error("Percentile sorted the sample in place")
	}
	if sum := s.Summarize(); sum.N != 20 || sum.P50 != 10 || sum.P95 != 19 {
		t.Errorf("summary %+v", sum)
	}
	if (Sample{}).Median() != 0 || Ratio(time.Second, 0) != 0 || Ratio(3*time.Second, 2*time.Second) != 1.5 {
		t.Error("empty sample or ratio")
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	p, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSS <= 0 || p.PeakRSS < p.RSS || p.Threads < 1 || p.CPU < 0 {
		t.Fatalf("implausible: %+v", p)
	}
	c, err := TaskCPU(os.Getpid())
	if err != nil || c <= 0 || c > p.CPU+time.Second {
		t.Fatalf("task CPU %v (%v), stat CPU %v", c, err, p.CPU)
	}
	w := WatchRSS(os.Getpid(), time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if peak := w.Stop(); peak <= 0 {
		t.Fatalf("watched peak %d", peak)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func post(t *testing.T, url, token string, items ...string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("["+strings.Join(items, ",")+"]"))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func state(msg string, seq int, s string) string {
	return `{"jsonrpc":"2.0","method":"conversation.state","params":{"messageId":"` + msg + `","seq":` + itoa(seq) + `,"state":"` + s + `"}}`
}

func event(msg string, seq int) string {
	return `{"jsonrpc":"2.0","method":"conversation.event","params":{"messageId":"` + msg + `","seq":` + itoa(seq) + `,"event":{"type":"x","n":[1,2,{"a":"b"}]}}}`
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestOrchestratorRecordsArrivalsSeqsAndResponses(t *testing.T) {
	o := NewOrchestrator("tok")
	defer o.Close()
	if code := post(t, o.URL, "wrong", event("m", 1)); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	before := time.Now()
	if code := post(t, o.URL, "tok", state("m", 1, "queued"), event("m", 2), event("m", 3)); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	posted := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, o.URL, strings.NewReader("["+strings.Join([]string{event("m", 3), event("m", 5),
			`{"jsonrpc":"2.0","method":"runner.heartbeat","params":{"runnerId":"r"}}`, `{"jsonrpc":"2.0","id":"m","result":{"status":"completed"}}`}, ",")+"]"))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			posted <- 0
			return
		}
		resp.Body.Close()
		posted <- resp.StatusCode
	}()
	r, err := o.WaitResponse(ctx, "m")
	if code := <-posted; code != http.StatusOK {
		t.Fatalf("second post: %d", code)
	}
	if err != nil || r.Status() != "completed" || r.At.Before(before) {
		t.Fatalf("response %+v %v", r, err)
	}
	m, ok := o.Message("m")
	if !ok || m.Events != 3 || m.Duplicates != 1 || m.Gaps != 1 || m.LastSeq != 5 || m.States["queued"].IsZero() || m.FirstEvent.After(m.LastEvent) {
		t.Fatalf("message %+v", m)
	}
	if tot := o.Totals(); tot.Posts != 2 || tot.Items != 7 || tot.Heartbeats != 1 || len(tot.Problems) != 0 {
		t.Fatalf("totals %+v", tot)
	}
	if code := post(t, o.URL, "tok"); code != http.StatusBadRequest || len(o.Totals().Problems) != 1 {
		t.Fatalf("empty batch: %d %v", code, o.Totals().Problems)
	}
}

func TestGeneralPathHidesIDs(t *testing.T) {
	tests := map[string]string{
		"/containers/create":                    "/containers/create",
		"/containers/0123abcd/json":             "/containers/{id}/json",
		"/containers/claudette-bench-ws-1-ab":   "/containers/{id}",
		"/images/claudette-test/agent:x-1/json": "/images/{ref}/json",
		"/_ping":                                "/_ping",
	}
	for in, want := range tests {
		if got := generalPath(in); got != want {
			t.Errorf("generalPath(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestTurnPhasesFromEngineCalls(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	call := func(method, path string, start, end float64) EngineCall {
		return EngineCall{Method: method, Path: path, Start: at(start), Header: at(start + 0.1), End: at(end)}
	}
	attach := call("POST", "/containers/c1/attach", 40, 300)
	attach.FirstByte = at(260)
	calls := []EngineCall{
		call("HEAD", "/_ping", 1, 2),
		call("GET", "/images/img:1/json", 5, 6),
		call("POST", "/containers/create", 6, 36),
		call("GET", "/containers/c1/json", 37, 38),
		attach,
		call("POST", "/containers/c1/wait", 41, 310),
		call("POST", "/containers/c1/start", 42, 242),
		call("GET", "/containers/c1/json", 312, 313),
		call("DELETE", "/containers/c1", 313, 320),
	}
	tt := turnTrace{t0: t0, firstEvent: at(270), response: at(325), checkout: time.Millisecond}
	d, names, err := tt.phases(calls)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for i, n := range names {
		got[n] = Ms(d[i])
	}
	want := map[string]float64{
		"message → first engine call (intake, queue, checkout)": 5,
		PhaseCheckout:      1,
		"container create": 30,
		"start":            200,
		"first byte (started → first stdout byte)":     18,
		"first byte → first event at the orchestrator": 10,
		PhaseFirstEvent:                          270,
		"agent runs (started → exit seen)":       68,
		"exit seen → removed":                    10,
		"removed → response at the orchestrator": 5,
		"message → response (total)":             325,
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s = %v ms, want %v (all: %v)", n, got[n], w, got)
		}
	}
	if len(tt.calls) != 8 || tt.calls[0] != "GET /images/{ref}/json" {
		t.Errorf("engine calls %v", tt.calls)
	}
	if _, _, err := (&turnTrace{t0: t0}).phases(calls[:3]); err == nil {
		t.Error("no error for a turn without its container calls")
	}
}

func TestResultsTableAndJSON(t *testing.T) {
	r := &Results{
		Overhead: &Overhead{Turns: 30, FirstEvent: Summary{P50: 300, P95: 400}, CLI: Summary{P50: 400}, Ratio: 0.75, Met: true},
		Relay:    &Relay{Events: 200000, LineBytes: 254, EventsPerSec: 40000, PeakRSSMiB: 50},
		Idle:     &Idle{Seconds: 60, CPUPercent: 0.05, Met: true},
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	for _, want := range []string{"| 1 |", "300 / 400 ms", "≤ 1.0: met", "200,000 events of 254 bytes", "**missed**", "< 1 %: met"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	path := filepath.Join(t.TempDir(), "results.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	var back Results
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &back); err != nil || back.Relay.EventsPerSec != 40000 || back.Checkout != nil {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestMergeKeepsEarlierMeasurementsAndNotesALoneOne(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	earlier := &Results{Machine: Machine{Commit: "old"}, Started: start, Finished: start.Add(5 * time.Minute),
		Idle: &Idle{Seconds: 60, CPUPercent: 0.05, Met: true}, GitRelay: &GitRelay{PushRatio: 2}}
	r := &Results{Machine: Machine{Commit: "new"}, Started: start.Add(time.Hour), Finished: start.Add(time.Hour + 3*time.Minute),
		GitRelay: &GitRelay{MiB: 100, Rounds: 5, PushRatio: 1.05, FetchRatio: 0.98, PushRSSMiB: 1.5, At: start.Add(time.Hour), Commit: "new"}}
	r.Merge(earlier)
	if r.Idle == nil || r.GitRelay.PushRatio != 1.05 || r.Machine.Commit != "old" || !r.Started.Equal(start) {
		t.Fatalf("merged = %+v", r)
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	for _, want := range []string{"| 7 |", "×1.05", "≤ 1.1×, RSS < +64 MiB: met", "×0.98", "< 1 %: met", "Measurement 7 ran on its own", "commit new"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
