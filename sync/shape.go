package sync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/retry"
)

// shapeURL applies the URL rule of CONTRACT section 2: /v1/shape is appended
// unless the path already ends with it. The operator's own query parameters
// (e.g. an Electric Cloud source_id) are kept.
func shapeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("parse electric URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("electric URL must be http(s)://host[/path], got scheme %q host %q", u.Scheme, u.Host)
	}
	path := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(path, shapePath) {
		path += shapePath
	}
	u.Path, u.RawPath = path, ""
	u.Fragment = ""
	return u, nil
}

// position is where the stream stands in the shape log.
type position struct {
	Handle string
	Offset string
}

// stream is the client side of the runner's shape: it builds each request
// from its state and reads each response. It is used by one goroutine.
type stream struct {
	base    *url.URL
	runner  string
	token   string
	client  *http.Client
	timeout time.Duration
	maxBody int64

	pos         position
	cursor      string
	live        bool   // an up-to-date was reached: requests long-poll
	expired     string // the handle a 409 retired; a response still carrying it is stale
	cacheBuster string // set after a 409 or a stale response until the next good response
	stale       int    // stale responses in a row
}

// response is one 2xx (or 409) answer, read completely. The stream's state is
// not moved until advance is called with it.
type response struct {
	live     bool // the request was a long-poll
	refetch  bool // 409, or a must-refetch control message
	handle   string
	next     position
	cursor   string
	changes  []json.RawMessage // change messages in log order
	upToDate bool
}

// statusError is a non-2xx answer other than 409.
type statusError struct {
	code       int
	retryAfter time.Duration
	message    string   // the server's message, trimmed
	fields     []string // the fields a 400 names
}

func (e *statusError) Error() string {
	if e.message == "" {
		return fmt.Sprintf("electric answered HTTP %d", e.code)
	}
	return fmt.Sprintf("electric answered HTTP %d: %s", e.code, e.message)
}

// protocolError is a 2xx answer the client cannot trust: a missing required
// header or a body that is not a JSON array.
type protocolError struct{ detail string }

func (e *protocolError) Error() string { return "electric protocol error: " + e.detail }

// staleError is a 2xx still carrying the handle a 409 retired (a stale cache).
type staleError struct{ handle string }

func (e *staleError) Error() string { return "electric answered with the expired handle " + e.handle }

// requestURL builds the next request; the shape definition params are the same every time.
func (s *stream) requestURL() string {
	u := *s.base
	q := u.Query()
	q.Set(qTable, table)
	q.Set(qWhere, whereRunner)
	q.Set(qParam1, s.runner)
	q.Set(qOffset, s.pos.Offset)
	if s.pos.Handle != "" {
		q.Set(qHandle, s.pos.Handle)
	}
	if s.live {
		q.Set(qLive, "true")
		if s.cursor != "" {
			q.Set(qCursor, s.cursor)
		}
	}
	if s.expired != "" {
		q.Set(qExpiredHandle, s.expired)
	}
	if s.cacheBuster != "" {
		q.Set(qCacheBuster, s.cacheBuster)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// fetch sends one request and reads its answer completely.
func (s *stream) fetch(ctx context.Context) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.requestURL(), nil)
	if err != nil {
		return nil, fmt.Errorf("build electric request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("electric request: %w", redact(err))
	}
	defer resp.Body.Close()
	res := &response{live: s.live}
	switch code := resp.StatusCode; {
	case code == http.StatusConflict:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		res.refetch, res.handle = true, resp.Header.Get(hHandle)
		return res, nil
	case code == http.StatusNoContent || code == http.StatusNotModified:
		// The pre-1.0.4 live "nothing new" (and a cache revalidation): up-to-date, no body.
		res.next, res.cursor, res.upToDate = s.pos, s.cursor, true
		if h := resp.Header.Get(hHandle); h != "" {
			res.next.Handle = h
		}
		if o := resp.Header.Get(hOffset); o != "" {
			res.next.Offset = o
		}
		if c := resp.Header.Get(hCursor); c != "" {
			res.cursor = c
		}
		return res, nil
	case code >= 200 && code < 300:
		return s.read(resp, res)
	default:
		return nil, readStatusError(resp)
	}
}

// read takes a 2xx: required headers, then the body as a JSON array.
func (s *stream) read(resp *http.Response, res *response) (*response, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read electric response: %w", redact(err))
	}
	if int64(len(body)) > s.maxBody {
		return nil, &protocolError{detail: fmt.Sprintf("response body larger than %d bytes", s.maxBody)}
	}
	var missing []string
	need := func(name string) string {
		v, ok := resp.Header[http.CanonicalHeaderKey(name)]
		if !ok || len(v) == 0 || v[0] == "" {
			missing = append(missing, name)
			return ""
		}
		return v[0]
	}
	res.next.Handle = need(hHandle)
	res.next.Offset = need(hOffset)
	if s.live {
		res.cursor = need(hCursor)
	} else if resp.StatusCode == http.StatusOK {
		need(hSchema)
	}
	if len(missing) > 0 {
		return nil, &protocolError{detail: "response lacks required header(s) " + strings.Join(missing, ", ")}
	}
	_, res.upToDate = resp.Header[http.CanonicalHeaderKey(hUpToDate)]
	var msgs []json.RawMessage
	if err := json.Unmarshal(body, &msgs); err != nil {
		return nil, &protocolError{detail: "response body is not a JSON array of messages"}
	}
	for _, m := range msgs {
		var head struct {
			Headers struct {
				Control   string `json:"control"`
				Operation string `json:"operation"`
			} `json:"headers"`
		}
		if err := json.Unmarshal(m, &head); err != nil {
			// Not an object: the change decoder rejects it with a warning.
			res.changes = append(res.changes, m)
			continue
		}
		switch head.Headers.Control {
		case ctlUpToDate:
			res.upToDate = true
		case ctlMustRefetch:
			res.refetch = true
		case "":
			if head.Headers.Operation != "" || !isEventMessage(m) {
				res.changes = append(res.changes, m)
			}
		default:
			// snapshot-end and any control message this client does not know.
		}
	}
	if res.refetch {
		res.handle = ""
		return res, nil
	}
	if s.expired != "" && res.next.Handle == s.expired {
		return nil, &staleError{handle: s.expired}
	}
	return res, nil
}

// isEventMessage reports a subquery move-in/move-out message, which carries
// headers.event and no row; the runner's shape has no subqueries.
func isEventMessage(m json.RawMessage) bool {
	var ev struct {
		Headers struct {
			Event string `json:"event"`
		} `json:"headers"`
	}
	return json.Unmarshal(m, &ev) == nil && ev.Headers.Event != ""
}

// readStatusError reads a failed answer's status, Retry-After and message.
func readStatusError(resp *http.Response) error {
	e := &statusError{code: resp.StatusCode, retryAfter: retry.ParseRetryAfter(resp.Header.Get(hRetryAfter), time.Now())}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var parsed struct {
		Message string              `json:"message"`
		Error   string              `json:"error"`
		Errors  map[string][]string `json:"errors"`
	}
	if json.Unmarshal(body, &parsed) == nil {
		e.message = parsed.Message
		if e.message == "" {
			e.message = parsed.Error
		}
		for field, msgs := range parsed.Errors {
			e.fields = append(e.fields, field)
			e.message += fmt.Sprintf("; %s: %s", field, strings.Join(msgs, ", "))
		}
	} else {
		e.message = strings.TrimSpace(string(body))
	}
	e.message = clip(e.message, 300)
	return e
}

// positionProblem reports a 400 about the stream's position (offset, handle,
// live), which a resync from -1 repairs, as opposed to the shape's definition.
func (e *statusError) positionProblem() bool {
	if e.code != http.StatusBadRequest || len(e.fields) == 0 {
		return false
	}
	for _, f := range e.fields {
		switch f {
		case qOffset, qHandle, qLive, qCursor:
		default:
			return false
		}
	}
	return true
}

// advance moves the stream past an accepted response.
func (s *stream) advance(res *response) {
	s.pos = res.next
	if res.live {
		s.cursor = res.cursor
	}
	if res.upToDate {
		s.live = true
	}
	s.cacheBuster, s.stale = "", 0
}

// mustRefetch drops the shape state after a 409: the new handle (or
// <old>-next), offset -1, not live, and cache busters for the next request.
func (s *stream) mustRefetch(newHandle string) {
	old := s.pos.Handle
	if old != "" {
		s.expired = old
	}
	if newHandle == "" && old != "" {
		newHandle = old + "-next"
	}
	s.pos = position{Handle: newHandle, Offset: offsetBeforeAll}
	s.cursor, s.live = "", false
	s.cacheBuster = newCacheBuster()
}

// staleResponse handles a response carrying the expired handle: retry with a
// fresh cache buster, and after a few in a row trust the server ("self-heal").
func (s *stream) staleResponse() {
	s.stale++
	s.cacheBuster = newCacheBuster()
	if s.stale > 3 {
		s.expired, s.stale = "", 0
	}
}

// restart forgets the position: the next request reads the shape from -1.
func (s *stream) restart() {
	s.pos = position{Offset: offsetBeforeAll}
	s.cursor, s.live = "", false
	s.cacheBuster = newCacheBuster()
}

func newCacheBuster() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%d-%s", time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}

// redact drops the URL from a transport error: it may carry operator query
// params such as an Electric Cloud secret.
func redact(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
