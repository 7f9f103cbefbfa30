package orchestratortest

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Options say what the orchestrator expects of the runner.
type Options struct {
	Token           string // expected bearer token; empty accepts any non-empty one
	RunnerID        string // expected X-Claudette-Runner-Id; empty accepts any non-empty one
	AllowViolations bool   // do not fail the test at cleanup when the runner broke the contract
}

// Reply is how the orchestrator answers one POST.
type Reply struct {
	Status     int           // HTTP status; 0 means 200
	RetryAfter string        // Retry-After header, when not empty
	Body       string        // response body
	Delay      time.Duration // wait before answering
	Drop       bool          // close the connection without answering
}

func (r Reply) status() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

// Orchestrator is a recording orchestrator. Build it with New.
type Orchestrator struct {
	// URL is the orchestrator's JSON-RPC endpoint, for cfg.OrchestratorURL.
	URL string

	srv  *httptest.Server
	addr string

	mu         sync.Mutex
	opts       Options
	script     []Reply
	fallback   Reply
	requests   []Request
	items      []Item
	violations []string
	changed    chan struct{}
	down       bool
}

// New starts a recording orchestrator, closed when the test ends.
func New(tb testing.TB, opts Options) *Orchestrator {
	tb.Helper()
	o := &Orchestrator{opts: opts, changed: make(chan struct{})}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	o.addr = o.srv.Listener.Addr().String()
	o.URL = o.srv.URL + "/rpc"
	tb.Cleanup(func() {
		o.Close()
		if v := o.Violations(); len(v) > 0 && !opts.AllowViolations {
			tb.Errorf("orchestratortest: the runner broke the contract %d times, first: %s", len(v), v[0])
		}
	})
	return o
}

// Close stops the server. Tests need not call it: New registers it as cleanup.
func (o *Orchestrator) Close() {
	o.mu.Lock()
	o.down = true
	o.mu.Unlock()
	o.srv.Close()
}

// Script queues replies for the next POSTs, one each, before the default.
func (o *Orchestrator) Script(replies ...Reply) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.script = append(o.script, replies...)
}

// SetDefault sets the reply when no scripted reply is left (initially 200).
func (o *Orchestrator) SetDefault(r Reply) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fallback = r
}

// SetToken changes the bearer token the orchestrator accepts.
func (o *Orchestrator) SetToken(token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opts.Token = token
}

// Down stops listening and closes every connection: the runner gets
// "connection refused" until Up.
func (o *Orchestrator) Down() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return
	}
	o.down = true
	_ = o.srv.Listener.Close()
	o.srv.CloseClientConnections()
}

// Up listens again on the same address after Down.
func (o *Orchestrator) Up(tb testing.TB) {
	tb.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down {
		return
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port can take a moment to be free again
		if ln, err = net.Listen("tcp", o.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("orchestratortest: listen again on %s: %v", o.addr, err)
	}
	o.srv.Listener = ln
	o.down = false
	go func() { _ = o.srv.Config.Serve(ln) }()
}

func (o *Orchestrator) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return // the runner gave up on this request
	}
	rec := Request{Header: req.Header.Clone(), Body: body}

	o.mu.Lock()
	rec.Index = len(o.requests)
	var reply Reply
	switch problem := o.checkHeaders(req); {
	case problem == errUnauthorized:
		reply = Reply{Status: http.StatusUnauthorized, Body: `{"error":"invalid token"}`}
	case problem != nil:
		o.violate(rec.Index, problem.Error())
		reply = Reply{Status: http.StatusBadRequest, Body: problem.Error()}
	default:
		items, err := decodeBatch(body, rec.Index)
		if err != nil {
			o.violate(rec.Index, err.Error())
			reply = Reply{Status: http.StatusBadRequest, Body: err.Error()}
			break
		}
		rec.Items = items
		if len(o.script) > 0 {
			reply, o.script = o.script[0], o.script[1:]
		} else {
			reply = o.fallback
		}
		if s := reply.status(); !reply.Drop && s >= 200 && s < 300 {
			rec.Accepted = true
			o.items = append(o.items, items...)
		}
	}
	rec.Reply = reply
	o.requests = append(o.requests, rec)
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()

	if reply.Delay > 0 {
		time.Sleep(reply.Delay)
	}
	if reply.Drop {
		drop(w)
		return
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(reply.Body)))
	w.WriteHeader(reply.status())
	_, _ = io.WriteString(w, reply.Body)
}

var errUnauthorized = errors.New("unauthorized")

// checkHeaders is called with o.mu held.
func (o *Orchestrator) checkHeaders(req *http.Request) error {
	if req.Method != http.MethodPost {
		return fmt.Errorf("method %s, want POST", req.Method)
	}
	auth := req.Header.Get("Authorization")
	if o.opts.Token != "" && auth != "Bearer "+o.opts.Token {
		return errUnauthorized
	}
	if len(auth) <= len("Bearer ") || auth[:len("Bearer ")] != "Bearer " {
		return errUnauthorized
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("Content-Type %q, want application/json", req.Header.Get("Content-Type"))
	}
	id := req.Header.Get("X-Claudette-Runner-Id")
	if id == "" || (o.opts.RunnerID != "" && id != o.opts.RunnerID) {
		return fmt.Errorf("X-Claudette-Runner-Id %q, want %q", id, o.opts.RunnerID)
	}
	return nil
}

func (o *Orchestrator) violate(request int, problem string) {
	o.violations = append(o.violations, fmt.Sprintf("request %d: %s", request, problem))
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("orchestratortest: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset, as a crashed server would
	}
	_ = conn.Close()
}
