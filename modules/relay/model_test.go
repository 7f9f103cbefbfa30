package relay

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The sandbox's token goes in, the real key goes out: the upstream sees the
// real key and never the token, the path and query are kept, the client's
// other headers pass, and the SSE stream arrives whole and unchanged.
func TestModelRelaySwapsTheTokenForTheRealKey(t *testing.T) {
	up := newUpstream(t)
	f := startRelay(t, testConfig(t, up.URL))
	a := f.open(t, "")

	if len(a.Token) != 64 || !slices.Contains(a.Env, "ANTHROPIC_API_KEY="+a.Token) ||
		!slices.Contains(a.Env, "ANTHROPIC_BASE_URL=http://127.0.0.1:4141") || len(a.Env) != 2 {
		t.Fatalf("env = %q, want the base URL and the 64-hex turn token only", a.Env)
	}
	resp := postMessages(t, socketClient(socketOf(a, modelSocket)), "X-Api-Key", a.Token)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := sseEventsOf(t, resp.Body)
	want := []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
	got := up.requests()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(got))
	}
	r := got[0]
	if r.Header.Get("X-Api-Key") != realKey || r.Header.Get("Authorization") != "" {
		t.Errorf("upstream saw x-api-key %q, authorization %q; want the real key only", r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, a.Token) {
				t.Errorf("the turn token reached the upstream in %s", k)
			}
		}
	}
	if r.Method != http.MethodPost || r.Path != "/v1/messages" || r.Query != "beta=true" || r.Header.Get("Anthropic-Version") != "2023-06-01" ||
		!strings.Contains(r.Body, `"stream":true`) {
		t.Errorf("upstream request = %+v", r)
	}
	if strings.Contains(f.logs.String(), realKey) || strings.Contains(f.logs.String(), a.Token) {
		t.Error("a credential is in the log")
	}
}

// A bearer credential (ANTHROPIC_AUTH_TOKEN) is offered to the sandbox the
// same way, and swapped the same way; a base URL's path prefix is kept.
func TestModelRelayBearerAndBasePath(t *testing.T) {
	up := newUpstream(t)
	cfg := testConfig(t, up.URL+"/gateway/anthropic")
	cfg.Model.APIKey, cfg.Model.AuthToken = "", realKey
	f := startRelay(t, cfg)
	a := f.open(t, "")
	if !slices.Contains(a.Env, "ANTHROPIC_AUTH_TOKEN="+a.Token) || slices.ContainsFunc(a.Env, func(e string) bool { return strings.HasPrefix(e, "ANTHROPIC_API_KEY=") }) {
		t.Fatalf("env = %q, want the token as ANTHROPIC_AUTH_TOKEN", a.Env)
	}
	resp := postMessages(t, socketClient(socketOf(a, modelSocket)), "Authorization", "Bearer "+a.Token)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r := up.requests()[0]
	if r.Header.Get("Authorization") != "Bearer "+realKey || r.Header.Get("X-Api-Key") != "" || r.Path != "/gateway/anthropic/v1/messages" {
		t.Errorf("upstream saw authorization %q, x-api-key %q, path %s", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.Path)
	}
}

// Without the live turn's token nothing reaches the upstream: no token, a
// wrong one, another turn's, and a token whose turn has ended (its socket is
// gone, its open connections are closed, and a later turn refuses it).
func TestModelRelayRefusesAllButTheLiveToken(t *testing.T) {
	up := newUpstream(t)
	f := startRelay(t, testConfig(t, up.URL))
	first := f.open(t, "")
	second := f.open(t, "")
	firstClient := socketClient(socketOf(first, modelSocket))

	// A keep-alive connection to the first turn, opened while it is live.
	resp := postMessages(t, firstClient, "X-Api-Key", first.Token)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	cases := map[string]struct {
		socket, header, value string
	}{
		"no token":            {socketOf(second, modelSocket), "", ""},
		"wrong token":         {socketOf(second, modelSocket), "X-Api-Key", strings.Repeat("0", 64)},
		"another turn's":      {socketOf(second, modelSocket), "X-Api-Key", first.Token},
		"another turn bearer": {socketOf(second, modelSocket), "Authorization", "Bearer " + first.Token},
		"the real key":        {socketOf(second, modelSocket), "X-Api-Key", realKey},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			resp := postMessages(t, socketClient(c.socket), c.header, c.value)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "authentication_error") {
				t.Errorf("status %d %s, want 401 authentication_error", resp.StatusCode, body)
			}
		})
	}

	firstSocket := socketOf(first, modelSocket)
	first.Close()
	if _, err := os.Stat(firstSocket); !os.IsNotExist(err) {
		t.Errorf("the ended turn's socket is still there: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4141/v1/messages", strings.NewReader("{}"))
	req.Header.Set("X-Api-Key", first.Token)
	if resp, err := firstClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("the ended turn still answered %d on a connection opened before its end", resp.StatusCode)
	}
	resp = postMessages(t, socketClient(socketOf(second, modelSocket)), "X-Api-Key", first.Token)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the ended turn's token got %d from a live turn, want 401", resp.StatusCode)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("upstream got %d requests, want only the live turn's 1", n)
	}
	if got := testutil.ToFloat64(f.r.metrics.refused); got != float64(len(cases)+1) {
		t.Errorf("refused = %v, want %d", got, len(cases)+1)
	}
}

// The relay does not buffer: the sandbox reads the first event while the
// upstream still holds the rest back.
func TestModelRelayStreamsWithoutBuffering(t *testing.T) {
	up := newUpstream(t)
	up.release = make(chan struct{})
	f := startRelay(t, testConfig(t, up.URL))
	a := f.open(t, "")
	resp := postMessages(t, socketClient(socketOf(a, modelSocket)), "X-Api-Key", a.Token)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "event: message_start\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(up.release) // only now does the upstream send the rest
	rest := sseEventsOf(t, br)
	if len(rest) != len(sseEvents)-1 {
		t.Errorf("after release got %q", rest)
	}
}

// Requests and tokens are counted per conversation; a conversation's series
// are retired once its last turn ended long enough ago, never while a turn
// is open.
func TestModelRelayCountsPerConversation(t *testing.T) {
	up := newUpstream(t)
	f := startRelay(t, testConfig(t, up.URL))
	a := f.open(t, "")
	for range 2 {
		resp := postMessages(t, socketClient(socketOf(a, modelSocket)), "X-Api-Key", a.Token)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	m := f.r.metrics
	if got := testutil.ToFloat64(m.requests.WithLabelValues("ws-1", "c-1")); got != 2 {
		t.Errorf("requests = %v, want 2", got)
	}
	if in, out := testutil.ToFloat64(m.tokens.WithLabelValues("ws-1", "c-1", "claude-test", "input")), testutil.ToFloat64(m.tokens.WithLabelValues("ws-1", "c-1", "claude-test", "output")); in != 50 || out != 34 {
		t.Errorf("tokens input %v output %v, want 50 and 34", in, out)
	}
	if got := testutil.ToFloat64(m.open); got != 1 {
		t.Errorf("open turns = %v, want 1", got)
	}
	later := func() { f.r.retireSeries(time.Now().Add(2 * seriesRetention)) }
	b := f.open(t, "") // another turn of the same conversation
	a.Close()
	later()
	if testutil.CollectAndCount(m.requests) != 1 {
		t.Error("series retired while a turn of the conversation is open")
	}
	b.Close()
	later()
	if n := testutil.CollectAndCount(m.requests) + testutil.CollectAndCount(m.tokens); n != 0 {
		t.Errorf("%d series left after retirement", n)
	}
	if got := testutil.ToFloat64(m.open); got != 0 {
		t.Errorf("open turns = %v after close, want 0", got)
	}
}

// A turn re-attached after a restart is opened again with its token, in the
// directory its sandbox mounted; a second open of a live turn is refused.
func TestModelRelayReopensATurnWithItsToken(t *testing.T) {
	up := newUpstream(t)
	cfg := testConfig(t, up.URL)
	f := startRelay(t, cfg)
	turn := Turn{MessageID: "msg-reattach", WorkspaceID: "ws-1", ConversationID: "c-1"}
	a, err := f.r.Open(context.Background(), turn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.r.Open(context.Background(), turn); err == nil {
		t.Fatal("a live turn was opened twice")
	}
	dir := socketOf(a, "")
	// The runner dies: its listeners go, the directory (mounted in the
	// sandbox) stays. A new process re-opens the turn with the token.
	ctx := context.Background()
	if err := f.r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	g := startRelay(t, cfg)
	turn.Token = a.Token
	b, err := g.r.Open(ctx, turn)
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	defer b.Close()
	if socketOf(b, "") != dir || b.Token != a.Token {
		t.Fatalf("re-opened in %s with another token, want %s", socketOf(b, ""), dir)
	}
	resp := postMessages(t, socketClient(socketOf(b, modelSocket)), "X-Api-Key", a.Token)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("re-opened turn answered %d", resp.StatusCode)
	}
}

// Only what a turn needs is relayed on the real key: not message batches or
// files (they outlive the turn), nor paths that a server could read as one.
func TestModelRelayOnlyRelaysTurnEndpoints(t *testing.T) {
	up := newUpstream(t)
	f := startRelay(t, testConfig(t, up.URL))
	a := f.open(t, "")
	c := socketClient(socketOf(a, modelSocket))
	for name, tc := range map[string]struct {
		method, path string
		want         int
	}{
		"messages":        {http.MethodPost, "/v1/messages?beta=true", http.StatusOK},
		"count tokens":    {http.MethodPost, "/v1/messages/count_tokens", http.StatusOK},
		"models":          {http.MethodGet, "/v1/models", http.StatusOK},
		"a model":         {http.MethodGet, "/v1/models/claude-test", http.StatusOK},
		"message batches": {http.MethodPost, "/v1/messages/batches", http.StatusForbidden},
		"files":           {http.MethodGet, "/v1/files", http.StatusForbidden},
		"dot segments":    {http.MethodGet, "/v1/models/../files", http.StatusForbidden},
		"escaped slash":   {http.MethodGet, "/v1/models/..%2Ffiles", http.StatusForbidden},
		"messages by GET": {http.MethodGet, "/v1/messages", http.StatusForbidden},
		"another API":     {http.MethodGet, "/api/oauth/profile", http.StatusForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(up.requests())
			req, _ := http.NewRequest(tc.method, "http://127.0.0.1:4141"+tc.path, strings.NewReader("{}"))
			req.Header.Set("X-Api-Key", a.Token)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			forwarded := len(up.requests()) > before
			if resp.StatusCode != tc.want || forwarded != (tc.want == http.StatusOK) {
				t.Errorf("%s %s: %d, forwarded %v; want %d", tc.method, tc.path, resp.StatusCode, forwarded, tc.want)
			}
		})
	}
}

// Turn directories a previous process left are removed unless their turn is
// re-opened within the grace period.
func TestOrphanedTurnDirsAreRemoved(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	turns := filepath.Join(cfg.DataDir, "run", "turns")
	kept, gone := turnDirName("msg-kept"), turnDirName("msg-gone")
	for _, d := range []string{kept, gone} {
		if err := os.MkdirAll(filepath.Join(turns, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	f := startRelay(t, cfg)
	a, err := f.r.Open(context.Background(), Turn{MessageID: "msg-kept", WorkspaceID: "ws-1", ConversationID: "c-1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f.r.removeOrphans(time.Now())
	if _, err := os.Stat(filepath.Join(turns, gone)); err != nil {
		t.Fatalf("removed before the grace period: %v", err)
	}
	f.r.removeOrphans(time.Now().Add(orphanGrace))
	if _, err := os.Stat(filepath.Join(turns, gone)); !os.IsNotExist(err) {
		t.Errorf("orphan left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(turns, kept)); err != nil {
		t.Errorf("the re-opened turn's dir was removed: %v", err)
	}
}
