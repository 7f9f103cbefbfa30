package electrictest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Fault replaces the server's answer to shape requests (GET/HEAD /v1/shape)
// that it matches. Build one with the constructors below and queue it with
// Server.Inject; faults answer in the order they were queued.
type Fault struct {
	// Status answers with this status code, a JSON Body and, when set, a retry-after header.
	Status     int
	RetryAfter string
	Body       string
	// DropMidBody computes the real answer, sends its headers (with the full
	// content-length) and half its body, then drops the connection.
	DropMidBody bool
	// Hang holds the request until the client gives up (or the server closes).
	Hang bool
	// OmitHeaders computes the real answer and removes these headers.
	OmitHeaders []string
	// Legacy204 answers a live request at once with 204 No Content, the
	// pre-1.0.4 "nothing new" answer: handle, the requested offset, a cursor, no body.
	Legacy204 bool
	// Match selects the requests the fault applies to; nil matches every shape request.
	Match func(*http.Request) bool
	// Times is how many requests the fault answers; 0 means once.
	Times int
}

// Status answers with the status code and Electric's usual body for it.
func Status(code int) Fault { return Fault{Status: code} }

// Unavailable is the admission-control 503 with a retry-after in seconds (or an HTTP date).
func Unavailable(retryAfter string) Fault {
	return Fault{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter,
		Body: `{"code":"concurrent_request_limit_exceeded","message":"Concurrent existing request limit exceeded"}`}
}

// TooManyRequests is a 429 with a retry-after, as a rate-limiting proxy answers.
func TooManyRequests(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Body: `{"message":"Too many requests"}`}
}

// InternalError is a 500.
func InternalError() Fault { return Status(http.StatusInternalServerError) }

// Unauthorized is a 401 as the server in secure mode (or an auth proxy) answers.
func Unauthorized() Fault { return Status(http.StatusUnauthorized) }

// Forbidden is a 403, which only an auth proxy sends.
func Forbidden() Fault { return Status(http.StatusForbidden) }

// BadRequest is a validation 400 for one field.
func BadRequest(field, msg string) Fault {
	b, _ := json.Marshal(map[string]any{"message": "Invalid request", "errors": map[string][]string{field: {msg}}})
	return Fault{Status: http.StatusBadRequest, Body: string(b)}
}

// DropMidBody cuts the connection halfway through the real answer.
func DropMidBody() Fault { return Fault{DropMidBody: true} }

// Hang never answers.
func Hang() Fault { return Fault{Hang: true} }

// OmitHeaders answers normally without the named headers.
func OmitHeaders(names ...string) Fault { return Fault{OmitHeaders: names} }

// Legacy204 answers the next live request with the pre-1.0.4 204.
func Legacy204() Fault { return Fault{Legacy204: true}.OnLive() }

// OnLive restricts the fault to live requests.
func (f Fault) OnLive() Fault {
	f.Match = func(r *http.Request) bool { return isTrue(r.URL.Query(), "live") }
	return f
}

// OnNonLive restricts the fault to requests that are not live.
func (f Fault) OnNonLive() Fault {
	f.Match = func(r *http.Request) bool { return !isTrue(r.URL.Query(), "live") }
	return f
}

// Repeat makes the fault answer n requests.
func (f Fault) Repeat(n int) Fault {
	f.Times = n
	return f
}

func (f Fault) name() string {
	switch {
	case f.Hang:
		return "hang"
	case f.DropMidBody:
		return "drop mid-body"
	case f.Legacy204:
		return "legacy 204"
	case len(f.OmitHeaders) > 0:
		return "omit " + strings.Join(f.OmitHeaders, ",")
	}
	return "status " + strconv.Itoa(f.Status)
}

// Inject queues faults.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		if f.Times <= 0 {
			f.Times = 1
		}
		s.faults = append(s.faults, f)
	}
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// PendingFaults is how many injected faults have not answered yet.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Times
	}
	return n
}

// popFault takes the first queued fault matching r. Call with s.mu held.
func (s *Server) popFault(r *http.Request) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if f.Match != nil && !f.Match(r) {
			continue
		}
		out := *f
		if f.Times--; f.Times <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return out, true
	}
	return Fault{}, false
}

func (s *Server) applyFault(w *statusWriter, r *http.Request, f Fault) {
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
	case f.Legacy204:
		q := r.URL.Query()
		s.mu.Lock()
		hold := s.hold
		s.mu.Unlock()
		h := w.Header()
		h.Set("electric-handle", q.Get("handle"))
		h.Set("electric-offset", q.Get("offset"))
		h.Set("electric-cursor", nextCursor(hold, q.Get("cursor")))
		h.Set("cache-control", cacheLive)
		w.WriteHeader(http.StatusNoContent)
	case f.DropMidBody:
		c := s.capture(w, r)
		w.Header().Set("content-length", strconv.Itoa(c.body.Len()))
		w.WriteHeader(c.status)
		_, _ = w.Write(c.body.Bytes()[:c.body.Len()/2])
		w.Flush()
		w.dropped = true
		panic(http.ErrAbortHandler)
	case len(f.OmitHeaders) > 0:
		c := s.capture(w, r)
		for _, name := range f.OmitHeaders {
			w.Header().Del(name)
		}
		w.WriteHeader(c.status)
		_, _ = w.Write(c.body.Bytes())
	default:
		if f.RetryAfter != "" {
			w.Header().Set("retry-after", f.RetryAfter)
		}
		if f.Status >= 400 && f.Status != http.StatusConflict {
			noStore(w)
		}
		body := f.Body
		if body == "" {
			body = defaultBody(f.Status)
		}
		w.Header().Set("content-type", "application/json; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(body))
	}
}

func defaultBody(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return `{"message":"Unauthorized - Invalid API secret"}`
	case http.StatusForbidden:
		return `{"message":"Forbidden"}`
	case http.StatusConflict:
		return `[{"headers":{"control":"must-refetch"}}]`
	case http.StatusInternalServerError:
		return `{"error":"Internal server error"}`
	}
	return fmt.Sprintf(`{"message":%q}`, http.StatusText(code))
}

// captured is a real answer computed into memory, its headers already on the
// real writer's header map.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.header }
func (c *captured) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *captured) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

func (s *Server) capture(w http.ResponseWriter, r *http.Request) *captured {
	c := &captured{header: w.Header()}
	s.serveShape(c, r)
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c
}
