package sync

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

func TestShapeURLRule(t *testing.T) {
	cases := map[string]string{
		"http://electric:3000":                        "http://electric:3000/v1/shape",
		"http://electric:3000/":                       "http://electric:3000/v1/shape",
		"https://proxy.example/electric":              "https://proxy.example/electric/v1/shape",
		"https://proxy.example/electric/v1/shape":     "https://proxy.example/electric/v1/shape",
		"https://proxy.example/electric/v1/shape/":    "https://proxy.example/electric/v1/shape",
		"https://api.example/v1/shape?source_id=abc":  "https://api.example/v1/shape?source_id=abc",
		"https://api.example?source_id=abc#fragment":  "https://api.example/v1/shape?source_id=abc",
		"http://electric:3000/v1/shapes":              "http://electric:3000/v1/shapes/v1/shape",
		"http://electric:3000/prefix/v1/shape/extra/": "http://electric:3000/prefix/v1/shape/extra/v1/shape",
	}
	for in, want := range cases {
		u, err := shapeURL(in)
		if err != nil || u.String() != want {
			t.Errorf("shapeURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "electric:3000", "ftp://x/", "http://"} {
		if _, err := shapeURL(bad); err == nil {
			t.Errorf("shapeURL(%q) accepted", bad)
		}
	}
}

func TestRequestKeepsOperatorParamsAndNeverPastesTheRunnerID(t *testing.T) {
	base, err := shapeURL("https://api.example/v1/shape?source_id=abc")
	if err != nil {
		t.Fatal(err)
	}
	st := &stream{base: base, runner: "r'1; drop table x", pos: position{Offset: "-1"}}
	u := st.requestURL()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	if q.Get("source_id") != "abc" || q.Get("where") != "runner_id = $1" {
		t.Fatalf("request URL %s", u)
	}
	if q.Get("params[1]") != st.runner {
		t.Fatalf("runner id not carried as params[1]: %s", u)
	}
	if strings.Count(u, "drop") != 1 {
		t.Fatalf("runner id pasted outside params[1]: %s", u)
	}
}

func TestJournalRetentionByCount(t *testing.T) {
	j, err := openJournal(t.TempDir(), 24*time.Hour, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.close() })
	now := time.Now()
	for n := range 8 {
		recs := []record{{id: fmt.Sprintf("m%d", n), verdict: verdictAccepted}}
		if _, _, err := j.commit(recs, nil, position{Handle: "h", Offset: fmt.Sprintf("1_%d", n)}, "shape", now.Add(time.Duration(n)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := j.size(); n != 5 {
		t.Fatalf("journal holds %d ids, want 5", n)
	}
	for n := range 8 {
		has, _ := j.has(fmt.Sprintf("m%d", n))
		if has != (n >= 3) {
			t.Errorf("m%d journaled = %v, want only the 5 newest", n, has)
		}
	}
	pos, ok, _ := j.position("shape")
	if !ok || pos.Offset != "1_7" {
		t.Fatalf("position %v %v", pos, ok)
	}
	if _, ok, _ := j.position("another shape"); ok {
		t.Fatal("position returned for another shape")
	}
}

func TestJournalRetentionByAgeAlsoOnOpen(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir, time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := []record{{id: "old-1", verdict: verdictAccepted}, {id: "old-2", verdict: verdictRejected}}
	if _, _, err := j.commit(old, nil, position{Offset: "-1"}, "s", now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.commit([]record{{id: "recent", verdict: verdictAccepted}}, nil, position{Offset: "-1"}, "s", now.Add(-30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The next commit's retention pass drops the ids past the max age.
	for id, want := range map[string]bool{"old-1": false, "old-2": false, "recent": true} {
		if has, _ := j.has(id); has != want {
			t.Fatalf("%s journaled = %v, want %v", id, has, want)
		}
	}
	_ = j.close()
	// Reopened with a shorter max age, the journal prunes on open.
	j, err = openJournal(dir, 10*time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.close() })
	if has, _ := j.has("recent"); has {
		t.Fatal("id older than the max age survived reopening")
	}
}

func TestJournalDuplicatesAndVerdicts(t *testing.T) {
	j, err := openJournal(t.TempDir(), time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.close() })
	recs := []record{{id: "a", verdict: verdictAccepted}, {id: "b", verdict: verdictRejected}, {id: "a", verdict: verdictAccepted}}
	fresh, _, err := j.commit(recs, nil, position{Offset: "-1"}, "s", time.Now())
	if err != nil || !fresh[0] || !fresh[1] || fresh[2] {
		t.Fatalf("fresh %v %v, want a and b new, the second a not", fresh, err)
	}
	fresh, known, err := j.commit([]record{{id: "a"}, {id: "c"}}, []string{"a", "b", "z"}, position{Offset: "-1"}, "s", time.Now())
	if err != nil || fresh[0] || !fresh[1] {
		t.Fatalf("fresh %v %v", fresh, err)
	}
	if known["a"] != verdictAccepted || known["b"] != verdictRejected || len(known) != 2 {
		t.Fatalf("known %v", known)
	}
}

func TestJournalIsLockedAgainstASecondRunner(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir, time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.close() })
	_, err = openJournal(dir, time.Hour, 10)
	if err == nil || !strings.Contains(err.Error(), "another runner") || !strings.Contains(err.Error(), filepath.Join(dir, journalFile)) {
		t.Fatalf("second open: %v", err)
	}
}

func TestNewChecksItsParams(t *testing.T) {
	cfg := config.Defaults()
	cfg.ElectricURL = "http://electric:3000"
	ok := Params{Config: cfg, Handler: &recorder{}, Health: health.NewRegistry()}
	cases := map[string]func(p *Params){
		"no config":  func(p *Params) { p.Config = nil },
		"no handler": func(p *Params) { p.Handler = nil },
		"no health":  func(p *Params) { p.Health = nil },
		"bad url":    func(p *Params) { c := *cfg; c.ElectricURL = "electric"; p.Config = &c },
	}
	for name, breakIt := range cases {
		p := ok
		breakIt(&p)
		if _, err := New(p); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
	in, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if ready, reason := ok.Health.Component(ReadinessComponent).IsReady(); ready || reason == "" {
		t.Fatalf("readiness before start: %v %q", ready, reason)
	}
	if err := in.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
}

type nopResponder struct{}

func (nopResponder) Respond(context.Context, rpc.Response) error { return nil }

func TestModuleWiring(t *testing.T) {
	cfg := config.Defaults()
	cfg.ElectricURL = "http://electric:3000"
	base := fx.Options(
		fx.NopLogger,
		Module,
		health.Module,
		fx.Supply(cfg, zap.NewNop()),
		fx.Provide(func() Handler { return &recorder{} }),
	)
	if err := fx.ValidateApp(base); err != nil {
		t.Fatalf("without a responder: %v", err)
	}
	withResponder := fx.Options(base, fx.Provide(func() Responder { return nopResponder{} }))
	if err := fx.ValidateApp(withResponder); err != nil {
		t.Fatalf("with a responder: %v", err)
	}
}

func TestMessageIDPattern(t *testing.T) {
	good := []string{"m-1", "0f8fad5b-d9cb-469f-a165-70867728950e", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "msg_abc.def", "urn:msg:1", strings.Repeat("a", 128)}
	bad := []string{"", ".hidden", ":x", "../etc", "a/b", "a b", "a\nb", strings.Repeat("a", 129), "é"}
	for _, id := range good {
		if !messageIDPattern.MatchString(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range bad {
		if messageIDPattern.MatchString(id) {
			t.Errorf("%q accepted", id)
		}
	}
}
