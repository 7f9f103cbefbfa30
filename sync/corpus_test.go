package sync

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

// A corpus of bad rows: none may stop the stream, each gets the right answer
// (when there is something to answer) and the good row after them is dispatched.
func TestMalformedRowsNeverStopTheStream(t *testing.T) {
	type want struct {
		code int    // 0: no answer
		id   string // JSON of the id answered
	}
	payloads := []struct {
		name    string
		payload string
		want    want
	}{
		{"not json", `{"jsonrpc":"2.0",`, want{rpc.CodeParseError, "null"}},
		{"empty payload", ``, want{rpc.CodeParseError, "null"}},
		{"binary garbage", "\x00\x01\xff", want{rpc.CodeParseError, "null"}},
		{"json array (batch)", `[{"jsonrpc":"2.0","id":1,"method":"runner.ping"}]`, want{rpc.CodeInvalidRequest, "null"}},
		{"json string", `"runner.ping"`, want{rpc.CodeInvalidRequest, "null"}},
		{"json number", `42`, want{rpc.CodeInvalidRequest, "null"}},
		{"json null", `null`, want{rpc.CodeInvalidRequest, "null"}},
		{"no jsonrpc", `{"id":"r1","method":"runner.ping"}`, want{rpc.CodeInvalidRequest, `"r1"`}},
		{"jsonrpc 1.0", `{"jsonrpc":"1.0","id":"r2","method":"runner.ping"}`, want{rpc.CodeInvalidRequest, `"r2"`}},
		{"no id", `{"jsonrpc":"2.0","method":"runner.ping"}`, want{rpc.CodeInvalidRequest, "null"}},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"runner.ping"}`, want{rpc.CodeInvalidRequest, "null"}},
		{"object id", `{"jsonrpc":"2.0","id":{"a":1},"method":"runner.ping"}`, want{rpc.CodeInvalidRequest, "null"}},
		{"no method", `{"jsonrpc":"2.0","id":7}`, want{rpc.CodeInvalidRequest, "7"}},
		{"empty method", `{"jsonrpc":"2.0","id":"r3","method":""}`, want{rpc.CodeInvalidRequest, `"r3"`}},
		{"numeric method", `{"jsonrpc":"2.0","id":"r4","method":5}`, want{rpc.CodeInvalidRequest, `"r4"`}},
		{"scalar params", `{"jsonrpc":"2.0","id":"r5","method":"runner.ping","params":"x"}`, want{rpc.CodeInvalidRequest, `"r5"`}},
	}
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond), electrictest.WithChunkRows(4))
	var expect []want
	for n, p := range payloads {
		srv.InsertMessage(ids("bad-", len(payloads))[n], testRunner, "ws-1", []byte(p.payload))
		expect = append(expect, p.want)
	}
	// Rows with a usable id but wrong ids inside: answered to the request's id.
	srv.InsertMessage("../../etc/passwd", testRunner, "ws-1", request("r6"))
	srv.InsertMessage("bad-ws", testRunner, "../ws", request("r7"))
	expect = append(expect, want{rpc.CodeInvalidRequest, `"r6"`}, want{rpc.CodeInvalidRequest, `"r7"`})
	// Rows with nothing to answer.
	srv.Insert(map[string]any{"id": "null-payload", "runner_id": testRunner, "workspace_id": "ws-1", "payload": nil})
	// Rows of other runners never reach this shape: the server filters them.
	srv.InsertMessage("other-runner", "runner-2", "ws-1", request("r8"))
	srv.Insert(map[string]any{"id": "null-runner", "runner_id": nil, "payload": json.RawMessage(request("r9"))})

	h := newHarness(t, srv, t.TempDir()).start()
	h.waitReady()
	// Messages no Postgres row would produce, straight into the live log.
	raw := []string{
		`42`,
		`"a string"`,
		`null`,
		`{}`,
		`{"headers":{}}`,
		`{"key":"k1","headers":{"operation":"truncate"},"value":{"id":"t1"}}`,
		`{"key":"k2","headers":{"operation":"insert"},"value":"not an object"}`,
		`{"key":"k3","headers":{"operation":"insert"},"value":{"runner_id":"runner-1","payload":"{}"}}`,
		`{"key":"k4","headers":{"operation":"insert"},"value":{"id":null,"runner_id":"runner-1"}}`,
		`{"key":"k5","headers":{"operation":"insert"},"value":{"id":12,"runner_id":"runner-1"}}`,
		`{"key":"k6","headers":{"operation":"insert"},"value":{"id":"raw-1","runner_id":"runner-1","payload":{"jsonrpc":"2.0","id":"r10","method":"runner.ping"}}}`,
		`{"key":"k7","headers":{"operation":"insert"},"value":{"id":"raw-2","runner_id":"runner-1"}}`,
		`{"key":"k8","headers":{"operation":"insert"},"value":{"id":"raw-3","runner_id":["runner-1"],"payload":"{}"}}`,
		`{"key":"k9","headers":{"operation":"delete"},"value":{}}`,
		`{"key":"k11","headers":{"operation":"insert"},"value":{"id":"raw-4","runner_id":"runner-2","payload":"{}"}}`,
		`{"headers":{"control":"something-new"}}`,
		`{"headers":{"event":"move-in","patterns":[]}}`,
		`{"key":"k10","headers":{"operation":"insert"},"value":{"id":"","runner_id":"runner-1","payload":"{}"}}`,
	}
	for _, m := range raw {
		srv.AppendRaw(json.RawMessage(m))
	}
	expect = append(expect, want{rpc.CodeInvalidRequest, `"r10"`})
	insert(srv, "good")
	h.waitIDs("good")
	eventually(t, "all answers", func() bool { return len(h.rec.responses()) >= len(expect) })

	got := h.rec.responses()
	if len(got) != len(expect) {
		t.Fatalf("%d answers, want %d: %+v", len(got), len(expect), got)
	}
	for n, r := range got {
		if r.Error == nil || r.Error.Code != expect[n].code || string(r.ID) != expect[n].id || r.JSONRPC != "2.0" {
			t.Errorf("answer %d: %+v (id %s), want code %d id %s", n, r.Error, r.ID, expect[n].code, expect[n].id)
		}
	}
	m := h.rec.messages[0]
	if m.RunnerID != testRunner || m.WorkspaceID != "ws-1" || m.Request.Method != rpc.MethodRunnerPing ||
		string(m.Request.ID) != `"req-good"` || m.CreatedAt == "" {
		t.Fatalf("dispatched message %+v", m)
	}
	if n := h.logs.FilterMessage("row for another runner ignored").Len(); n != 2 {
		t.Fatalf("%d warnings for other runners' rows, want 2", n)
	}
	if n := h.counter("claudette_intake_rows_rejected_total"); n < 30 {
		t.Fatalf("rows rejected %v, want every bad row counted", n)
	}

	// Re-reading the same rows (a 409) answers none of them again.
	srv.Rotate()
	insert(srv, "good-2")
	h.waitIDs("good", "good-2")
	if n := len(h.rec.responses()); n != len(expect) {
		t.Fatalf("%d answers after a re-read, want still %d", n, len(expect))
	}
}

func TestInvalidRowsWithoutAResponderAreLogged(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond))
	srv.InsertMessage("bad", testRunner, "ws-1", []byte("nope"))
	insert(srv, "good")
	h := newHarness(t, srv, t.TempDir(), func(p *Params) { p.Responder = nil }).start()
	h.waitIDs("good")
	logged := h.logs.FilterMessage("invalid request row; no responder to answer it").All()
	if len(logged) != 1 || logged[0].ContextMap()["message_id"] != "bad" {
		t.Fatalf("logs %v, want one naming message bad", logged)
	}
}
