package electrictest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// answer is one raw HTTP exchange with the fake.
type answer struct {
	status int
	header http.Header
	msgs   []map[string]any
	body   string
	err    error
}

func get(t *testing.T, s *Server, q url.Values, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.ShapeURL()+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
	_ = json.Unmarshal(b, &a.msgs)
	return a
}

func query(kv ...string) url.Values {
	q := url.Values{"table": {"runner_messages"}, "where": {"runner_id = $1"}, "params[1]": {"r1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func (a answer) controls() []string {
	var out []string
	for _, m := range a.msgs {
		if h, ok := m["headers"].(map[string]any); ok {
			if c, ok := h["control"].(string); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

func (a answer) has(h string) bool { _, ok := a.header[http.CanonicalHeaderKey(h)]; return ok }

func TestInitialSyncChunksSnapshotThenUpToDate(t *testing.T) {
	s := New(t, WithChunkRows(2))
	for _, id := range []string{"a", "b", "c"} {
		s.InsertMessage(id, "r1", "ws", []byte(`{"jsonrpc":"2.0","id":1,"method":"m"}`))
	}
	s.InsertMessage("other", "r2", "ws", []byte(`{}`))

	a := get(t, s, query("offset", "-1"))
	if a.status != 200 || len(a.msgs) != 2 || a.controls() != nil || a.has("electric-up-to-date") {
		t.Fatalf("first chunk: %d %s", a.status, a.body)
	}
	handle := a.header.Get("electric-handle")
	if !strings.Contains(handle, "-") || a.header.Get("electric-offset") != "0_1" || !a.has("electric-schema") || a.has("electric-cursor") {
		t.Fatalf("first chunk headers %v", a.header)
	}
	if a.header.Get("cache-control") != cacheInitial || a.header.Get("electric-has-data") != "true" ||
		!strings.HasPrefix(a.header.Get("etag"), `"`+handle+":-1:0_1") || !strings.HasPrefix(a.header.Get("content-type"), "application/json") {
		t.Fatalf("first chunk cache headers %v", a.header)
	}
	row := a.msgs[0]
	value := row["value"].(map[string]any)
	if row["key"] != `"public"."runner_messages"/"a"` || value["payload"] != `{"id": 1, "method": "m", "jsonrpc": "2.0"}` || value["runner_id"] != "r1" {
		t.Fatalf("snapshot row %v", row)
	}
	if h := row["headers"].(map[string]any); h["operation"] != "insert" || h["lsn"] != nil {
		t.Fatalf("snapshot row headers %v (snapshot rows carry only operation and relation)", h)
	}

	a = get(t, s, query("offset", "0_1", "handle", handle))
	if len(a.msgs) != 2 || a.controls()[0] != "snapshot-end" || a.header.Get("electric-offset") != "0_inf" || a.has("electric-up-to-date") {
		t.Fatalf("second chunk: %v %s", a.header, a.body)
	}
	a = get(t, s, query("offset", "0_inf", "handle", handle))
	if a.controls()[0] != "up-to-date" || !a.has("electric-up-to-date") || a.header.Get("electric-offset") != "0_inf" ||
		a.header.Get("cache-control") != cacheNonLive {
		t.Fatalf("caught up: %v %s", a.header, a.body)
	}
	// The same query gives the same handle; the other runner's row is not in this shape.
	if b := get(t, s, query("offset", "-1")); b.header.Get("electric-handle") != handle {
		t.Fatal("a second offset=-1 read made a new shape")
	}
}

func TestLiveHoldWakeTimeoutAndCursor(t *testing.T) {
	s := New(t, WithLiveHold(300*time.Millisecond))
	a := get(t, s, query("offset", "-1"))
	handle := a.header.Get("electric-handle")
	a = get(t, s, query("offset", "0_inf", "handle", handle, "live", "true", "cursor", "99999999999"))
	if a.status != 200 || a.controls()[0] != "up-to-date" || a.header.Get("electric-offset") != "0_inf" ||
		a.header.Get("electric-has-data") != "false" || a.has("electric-schema") || a.header.Get("cache-control") != cacheLive {
		t.Fatalf("live timeout: %v %s", a.header, a.body)
	}
	if c, _ := strconv.ParseInt(a.header.Get("electric-cursor"), 10, 64); c <= 99999999999 {
		t.Fatalf("cursor %s not above the one sent", a.header.Get("electric-cursor"))
	}
	cursor := a.header.Get("electric-cursor")

	done := make(chan answer)
	go func() { done <- get(t, s, query("offset", "0_inf", "handle", handle, "live", "", "cursor", cursor)) }()
	waitHeld(t, s)
	s.InsertMessage("x", "r1", "ws", []byte(`{}`))
	a = <-done
	if len(a.msgs) != 2 || a.controls()[0] != "up-to-date" || a.header.Get("electric-has-data") != "true" {
		t.Fatalf("live wake: %s", a.body)
	}
	h := a.msgs[0]["headers"].(map[string]any)
	if h["operation"] != "insert" || h["lsn"] == nil || h["txids"] == nil || h["last"] != true || h["op_position"] == nil {
		t.Fatalf("live change headers %v", h)
	}
	if c1, c2 := mustInt(t, cursor), mustInt(t, a.header.Get("electric-cursor")); c2 <= c1 {
		t.Fatalf("cursor went from %d to %d", c1, c2)
	}
	if off := a.header.Get("electric-offset"); !strings.HasSuffix(off, "_0") || off == "0_inf" {
		t.Fatalf("offset after a change %q", off)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("not an integer: %q", s)
	}
	return v
}

// waitHeld waits for an in-flight live request.
func waitHeld(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		rs := s.Requests()
		if last := rs[len(rs)-1]; last.Live() && last.Status == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no held live request")
}

func TestRotationAnswers409(t *testing.T) {
	s := New(t, WithLiveHold(5*time.Second))
	handle := get(t, s, query("offset", "-1")).header.Get("electric-handle")
	done := make(chan answer)
	go func() { done <- get(t, s, query("offset", "0_inf", "handle", handle, "live", "true")) }()
	waitHeld(t, s)
	s.Rotate()
	a := <-done
	next := a.header.Get("electric-handle")
	if a.status != 409 || a.controls()[0] != "must-refetch" || next == "" || next == handle || a.header.Get("cache-control") != cache409 {
		t.Fatalf("held request after rotate: %d %v %s", a.status, a.header, a.body)
	}
	// Unknown handle: 409 pointing at the shape's handle.
	if a := get(t, s, query("offset", "0_inf", "handle", "nope")); a.status != 409 || a.header.Get("electric-handle") != next {
		t.Fatalf("unknown handle: %d %v", a.status, a.header)
	}
	// A handle used with another definition: 409 naming that definition's handle.
	if a := get(t, s, query("offset", "0_inf", "handle", next, "params[1]", "r2")); a.status != 409 || a.header.Get("electric-handle") == next {
		t.Fatalf("definition mismatch: %d %v", a.status, a.header)
	}
	s.RotateWithoutHandle()
	if a := get(t, s, query("offset", "0_inf", "handle", next)); a.status != 409 || a.has("electric-handle") || a.header.Get("cache-control") != cache409None {
		t.Fatalf("rotation without a successor: %d %v", a.status, a.header)
	}
	// The handle param is dropped with offset -1: any handle reads the current shape.
	if a := get(t, s, query("offset", "-1", "handle", next+"-next")); a.status != 200 || a.header.Get("electric-handle") == next {
		t.Fatalf("offset -1 after rotation: %d %v", a.status, a.header)
	}
}

func TestValidationErrors(t *testing.T) {
	s := New(t)
	cases := map[string]struct {
		q     url.Values
		field string
		msg   string
	}{
		"no table":           {url.Values{"offset": {"-1"}}, "table", "can't be blank"},
		"unknown table":      {url.Values{"table": {"nope"}, "offset": {"-1"}}, "table", "does not exist"},
		"no offset":          {query(), "offset", "can't be blank"},
		"bad offset":         {query("offset", "12"), "offset", "has invalid format"},
		"bad offset parts":   {query("offset", "1_2_3"), "offset", "has invalid format"},
		"negative offset":    {query("offset", "-2_0"), "offset", "has invalid format"},
		"no handle":          {query("offset", "0_inf"), "handle", "can't be blank when offset != -1"},
		"live at -1":         {query("offset", "-1", "live", "true"), "live", "can't be true when offset == -1"},
		"bare live at -1":    {query("offset", "-1", "live", ""), "live", "can't be true when offset == -1"},
		"live at now":        {query("offset", "now", "live", "yes"), "live", "can't be true when offset is 'now'"},
		"sse without live":   {query("offset", "-1", "live_sse", "true"), "live_sse", "unless live is also true"},
		"bad replica":        {query("offset", "-1", "replica", "half"), "replica", "is invalid"},
		"bad log":            {query("offset", "-1", "log", "some"), "log", "is invalid"},
		"columns without pk": {query("offset", "-1", "columns", "payload"), "columns", "primary key"},
		"param missing":      {query("offset", "-1", "where", "runner_id = $2"), "where", "$2"},
		"unsupported where":  {query("offset", "-1", "where", "runner_id in ('a')"), "where", "only understands"},
	}
	for name, tc := range cases {
		a := get(t, s, tc.q)
		var body struct {
			Message string              `json:"message"`
			Errors  map[string][]string `json:"errors"`
		}
		_ = json.Unmarshal([]byte(a.body), &body)
		if a.status != 400 || body.Message != "Invalid request" || !strings.Contains(strings.Join(body.Errors[tc.field], ";"), tc.msg) ||
			a.header.Get("cache-control") != "no-store" {
			t.Errorf("%s: %d %s", name, a.status, a.body)
		}
	}
	// Unknown params are ignored; live=false is not live.
	if a := get(t, s, query("offset", "-1", "cache-buster", "x", "expired_handle", "y", "live", "false")); a.status != 200 {
		t.Errorf("unknown params: %d %s", a.status, a.body)
	}
}

func TestOutOfBoundsOffset(t *testing.T) {
	s := New(t, WithLiveHold(200*time.Millisecond))
	handle := get(t, s, query("offset", "-1")).header.Get("electric-handle")
	a := get(t, s, query("offset", "999999999_0", "handle", handle))
	if a.status != 400 || !strings.Contains(a.body, "out of bounds for this shape") {
		t.Fatalf("out of bounds: %d %s", a.status, a.body)
	}
}

func TestReplicaAndValueEncoding(t *testing.T) {
	s := New(t, WithTable("public.items",
		Column{Name: "id", Type: "text", PK: true}, Column{Name: "done", Type: "bool"},
		Column{Name: "n", Type: "int8"}, Column{Name: "note", Type: "text"}))
	s.Insert(map[string]any{"id": "1", "done": true, "n": int64(9223372036854775807), "note": nil})
	def := get(t, s, url.Values{"table": {"items"}, "offset": {"-1"}})
	full := get(t, s, url.Values{"table": {`"public"."items"`}, "offset": {"-1"}, "replica": {"full"}})
	if v := def.msgs[0]["value"].(map[string]any); v["done"] != "true" || v["n"] != "9223372036854775807" || v["note"] != nil {
		t.Fatalf("snapshot values %v", v)
	}
	s.Update("1", map[string]any{"note": "hi"})
	s.Delete("1")
	for name, a := range map[string]answer{"default": def, "full": full} {
		b := get(t, s, url.Values{"table": {"items"}, "offset": {"0_inf"}, "handle": {a.header.Get("electric-handle")}, "replica": {name}})
		if len(b.msgs) != 3 {
			t.Fatalf("%s: %s", name, b.body)
		}
		upd, del := b.msgs[0]["value"].(map[string]any), b.msgs[1]["value"].(map[string]any)
		switch name {
		case "default":
			if len(upd) != 2 || upd["note"] != "hi" || len(del) != 1 || del["id"] != "1" || b.msgs[0]["old_value"] != nil {
				t.Fatalf("replica default: %s", b.body)
			}
		case "full":
			old, _ := b.msgs[0]["old_value"].(map[string]any)
			if len(upd) != 4 || upd["done"] != "t" || len(old) != 1 || old["note"] != nil || len(del) != 4 {
				t.Fatalf("replica full: %s", b.body)
			}
		}
	}
}

func TestRoutesAuthAndConditionalRequests(t *testing.T) {
	s := New(t, WithBearerToken("tok"), WithSecret("sec"), WithPathPrefix("/electric"))
	if a := get(t, s, query("offset", "-1", "secret", "sec")); a.status != 401 || a.header.Get("electric-server") == "" {
		t.Fatalf("no bearer token: %d", a.status)
	}
	if a := get(t, s, query("offset", "-1"), "Authorization", "Bearer tok"); a.status != 401 || !strings.Contains(a.body, "Invalid API secret") {
		t.Fatalf("no secret: %d %s", a.status, a.body)
	}
	a := get(t, s, query("offset", "-1", "secret", "sec"), "Authorization", "Bearer tok")
	if a.status != 200 {
		t.Fatalf("authorized: %d %s", a.status, a.body)
	}
	if b := get(t, s, query("offset", "-1", "secret", "sec"), "Authorization", "Bearer tok", "If-None-Match", a.header.Get("etag")); b.status != 304 || b.body != "" {
		t.Fatalf("If-None-Match: %d", b.status)
	}
	for path, want := range map[string]int{"/electric/v1/health": 200, "/electric/": 200, "/electric/v2/x": 404, "/v1/shape": 404} {
		resp, err := http.Get(s.srv.URL + path)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("GET %s: %v %v, want %d", path, resp, err, want)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodOptions, s.ShapeURL(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("OPTIONS: %v %v", resp, err)
	}
	resp.Body.Close()
	if n := len(s.Requests()); n != 9 {
		t.Fatalf("recorded %d requests, want 9", n)
	}
}

func TestOffsetNowAndChangesOnly(t *testing.T) {
	s := New(t)
	s.InsertMessage("a", "r1", "ws", []byte(`{}`))
	a := get(t, s, query("offset", "now"))
	if a.status != 200 || a.controls()[0] != "up-to-date" || len(a.msgs) != 1 || a.header.Get("electric-offset") != "0_inf" || a.header.Get("electric-has-data") != "false" {
		t.Fatalf("offset=now: %v %s", a.header, a.body)
	}
	c := get(t, s, query("offset", "-1", "log", "changes_only"))
	if len(c.msgs) != 1 || c.controls()[0] != "snapshot-end" {
		t.Fatalf("changes_only: %s", c.body)
	}
}

func TestFaults(t *testing.T) {
	s := New(t, WithLiveHold(100*time.Millisecond))
	s.InsertMessage("a", "r1", "ws", []byte(`{}`))
	s.Inject(Unavailable("7"), TooManyRequests("3"), DropMidBody(), OmitHeaders("electric-handle", "electric-schema"))
	if a := get(t, s, query("offset", "-1")); a.status != 503 || a.header.Get("retry-after") != "7" || a.header.Get("cache-control") != "no-store" {
		t.Fatalf("503: %d %v", a.status, a.header)
	}
	if a := get(t, s, query("offset", "-1")); a.status != 429 || a.header.Get("retry-after") != "3" {
		t.Fatalf("429: %d %v", a.status, a.header)
	}
	if a := get(t, s, query("offset", "-1")); !errors.Is(a.err, io.ErrUnexpectedEOF) {
		t.Fatalf("dropped mid-body: %d %v", a.status, a.err)
	}
	a := get(t, s, query("offset", "-1"))
	if a.status != 200 || a.has("electric-handle") || a.has("electric-schema") || !a.has("electric-offset") || len(a.msgs) != 2 {
		t.Fatalf("omit headers: %v", a.header)
	}
	handle := get(t, s, query("offset", "-1")).header.Get("electric-handle")
	s.Inject(Legacy204())
	// The 204 only answers live requests: a non-live one goes through.
	if a := get(t, s, query("offset", "0_inf", "handle", handle)); a.status != 200 {
		t.Fatalf("non-live with a pending 204: %d", a.status)
	}
	a = get(t, s, query("offset", "0_inf", "handle", handle, "live", "true"))
	if a.status != 204 || a.header.Get("electric-offset") != "0_inf" || !a.has("electric-cursor") || a.body != "" {
		t.Fatalf("legacy 204: %d %v", a.status, a.header)
	}
	s.Inject(Hang())
	req, _ := http.NewRequest(http.MethodGet, s.ShapeURL()+"?"+query("offset", "-1").Encode(), nil)
	if _, err := (&http.Client{Timeout: 200 * time.Millisecond}).Do(req); err == nil {
		t.Fatal("hung request answered")
	}
	deadline := time.Now().Add(5 * time.Second)
	rs := s.Requests()
	for rs[len(rs)-1].Status == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
		rs = s.Requests()
	}
	if got := rs[len(rs)-1]; got.Fault != "hang" || got.Status != -1 {
		t.Fatalf("hung request recorded as %+v", got)
	}
	if got := rs[2]; got.Fault != "drop mid-body" || got.Status != -1 {
		t.Fatalf("dropped request recorded as %+v", got)
	}
	if s.PendingFaults() != 0 {
		t.Fatal("faults left over")
	}
}

func TestJSONBIsSentInPostgresForm(t *testing.T) {
	s := New(t)
	s.InsertMessage("a", "r1", "ws", []byte(`{"method":"m","id":1.50,"jsonrpc":"2.0","params":{"b":[1,{"z":"<\u00e9\n>"}],"a":null},"id":2}`))
	s.InsertMessage("b", "r1", "ws", []byte(`not json`))
	a := get(t, s, query("offset", "-1"))
	got := []any{a.msgs[0]["value"].(map[string]any)["payload"], a.msgs[1]["value"].(map[string]any)["payload"]}
	want := []any{`{"id": 2, "method": "m", "params": {"a": null, "b": [1, {"z": "<é\n>"}]}, "jsonrpc": "2.0"}`, "not json"}
	if got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("payloads %q, want %q", got, want)
	}
}
