package electrictest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake Electric sync service. Create it with New; it closes itself
// when the test ends.
type Server struct {
	tb       testing.TB
	srv      *httptest.Server
	closing  chan struct{}
	closeOne sync.Once

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change to the data or the shapes
	hold     time.Duration
	chunk    int
	token    string
	secret   string
	prefix   string
	schema   tableSchema
	rows     map[string]map[string]any
	order    []string
	lsn      int64
	txid     int64
	handleNo int64
	shapes   map[string]*shape // current shape per definition key
	handles  map[string]*shape // every handle ever issued
	faults   []Fault
	requests []*Request
}

// Option configures a Server.
type Option func(*Server)

// WithLiveHold sets how long a live request is held when there is nothing new
// (Electric's ELECTRIC_LONG_POLL_TIMEOUT, 20 s by default). Use a short hold in tests.
func WithLiveHold(d time.Duration) Option { return func(s *Server) { s.hold = d } }

// WithChunkRows sets how many log entries one response carries at most
// (Electric splits by bytes, ELECTRIC_SHAPE_CHUNK_BYTES_THRESHOLD; rows are
// easier to reason about in tests). The default is 1000.
func WithChunkRows(n int) Option { return func(s *Server) { s.chunk = max(1, n) } }

// WithBearerToken puts an auth proxy in front of the shape endpoint: every
// shape request must carry `Authorization: Bearer <token>`, or gets 401.
func WithBearerToken(token string) Option { return func(s *Server) { s.token = token } }

// WithSecret runs the server in secure mode: shape requests need `secret=<s>`
// (or the deprecated `api_secret`), or get 401 as the real server answers.
func WithSecret(secret string) Option { return func(s *Server) { s.secret = secret } }

// WithPathPrefix serves the API under a prefix, as a proxy mounted at a sub-path
// would: `<prefix>/v1/shape`.
func WithPathPrefix(prefix string) Option {
	return func(s *Server) { s.prefix = "/" + strings.Trim(prefix, "/") }
}

// WithTable replaces the default table (runner_messages of CONTRACT section 2).
// The first column marked PK is the primary key.
func WithTable(name string, columns ...Column) Option {
	return func(s *Server) { s.schema = newSchema(name, columns) }
}

// New starts a fake Electric server; it is closed by tb.Cleanup.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		tb:      tb,
		closing: make(chan struct{}),
		changed: make(chan struct{}),
		hold:    20 * time.Second,
		chunk:   1000,
		schema:  runnerMessages(),
		rows:    map[string]map[string]any{},
		lsn:     26800000,
		txid:    750,
		shapes:  map[string]*shape{},
		handles: map[string]*shape{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(s.Close)
	return s
}

// URL is the base URL of the service (with the path prefix, without /v1/shape),
// what an operator passes as the Electric URL.
func (s *Server) URL() string { return s.srv.URL + s.prefix }

// ShapeURL is URL() + "/v1/shape".
func (s *Server) ShapeURL() string { return s.URL() + "/v1/shape" }

// Close stops the server: held and hung requests end, connections are closed.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// SetBearerToken changes the token the auth proxy accepts ("" turns the check off),
// e.g. to model an operator fixing the other side.
func (s *Server) SetBearerToken(token string) {
	s.mu.Lock()
	s.token = token
	s.mu.Unlock()
}

// Handles lists the current handle of every shape the server serves.
func (s *Server) Handles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.shapes))
	for _, sh := range s.shapes {
		out = append(out, sh.handle)
	}
	return out
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	// Status is the status answered, 0 while the request is in flight, or -1
	// when the connection was dropped or the client went away first.
	Status int
	At     time.Time
	// Fault is the injected fault that answered it, if any.
	Fault string
}

// Live reports whether the request asked for a live long-poll.
func (r Request) Live() bool { return isTrue(r.Query, "live") }

// Requests returns a copy of every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
		out[i].Query = cloneValues(r.Query)
		out[i].Header = r.Header.Clone()
	}
	return out
}

// RequestCount is the number of requests received so far.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// wake tells held requests that something changed. Call with s.mu held.
func (s *Server) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}
