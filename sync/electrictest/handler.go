package electrictest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

const serverVersion = "ElectricSQL/1.7.12"

const exposeHeaders = "electric-cursor,electric-handle,electric-has-data,electric-offset,electric-schema,electric-up-to-date,electric-internal-known-error,retry-after"

// Cache-control values of PROTOCOL 1.10.
const (
	cacheInitial = "public, max-age=604800, s-maxage=3600, stale-while-revalidate=2629746"
	cacheNonLive = "public, max-age=60, stale-while-revalidate=300"
	cacheLive    = "public, max-age=5, stale-while-revalidate=5"
	cache409     = "public, max-age=60, must-revalidate"
	cache409None = "public, max-age=1, must-revalidate"
)

// serveHTTP records the request, routes it and applies injected faults.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), At: time.Now()}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		rec.Status = sw.status
		if sw.status == 0 || sw.dropped {
			rec.Status = -1
		}
		s.mu.Unlock()
	}()

	h := w.Header()
	h.Set("electric-server", serverVersion)
	h.Set("access-control-allow-origin", "*")
	h.Set("access-control-expose-headers", exposeHeaders)
	h.Set("access-control-allow-methods", "GET, POST, HEAD, DELETE, OPTIONS")

	path := r.URL.Path
	if s.prefix != "" {
		if !strings.HasPrefix(path, s.prefix+"/") && path != s.prefix {
			http.Error(sw, "Not found", http.StatusNotFound)
			return
		}
		path = strings.TrimPrefix(path, s.prefix)
	}
	switch {
	case path == "/v1/shape" && r.Method == http.MethodOptions:
		sw.WriteHeader(http.StatusNoContent)
	case path == "/v1/shape" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.mu.Lock()
		f, ok := s.popFault(r)
		if ok {
			rec.Fault = f.name()
		}
		s.mu.Unlock()
		if ok {
			s.applyFault(sw, r, f)
			return
		}
		s.serveShape(sw, r)
	case path == "/v1/shape":
		h.Set("allow", "GET, HEAD, OPTIONS")
		writeJSON(sw, http.StatusMethodNotAllowed, map[string]string{"message": "the fake server serves GET, HEAD and OPTIONS only"})
	case path == "/v1/health" && r.Method == http.MethodGet:
		writeJSON(sw, http.StatusOK, map[string]string{"status": "active"})
	case path == "/" && r.Method == http.MethodGet:
		sw.WriteHeader(http.StatusOK)
	default:
		http.Error(sw, "Not found", http.StatusNotFound)
	}
}

// request is a validated shape request.
type request struct {
	def       definition
	pred      predicate
	offset    logOffset
	offsetNow bool
	handle    string
	live      bool
	cursor    string
}

// isTrue reads a boolean param as Electric does: present and not "false".
func isTrue(q url.Values, name string) bool {
	v, ok := q[name]
	return ok && (len(v) == 0 || v[0] != "false")
}

var paramKey = regexp.MustCompile(`^params\[([0-9]+)\]$`)

// parseRequest validates the query as api/params.ex does; errs maps each bad
// field to its messages.
func (s *Server) parseRequest(q url.Values) (request, map[string][]string) {
	errs := map[string][]string{}
	fail := func(field, msg string) { errs[field] = append(errs[field], msg) }
	var req request

	switch table := q.Get("table"); {
	case table == "":
		fail("table", "can't be blank")
	case !s.tableMatches(table):
		fail("table", `Table "`+strings.Trim(table, `"`)+`" does not exist. If the table name contains capitals or special characters you must quote it.`)
	}
	switch off := q.Get("offset"); {
	case !q.Has("offset") || off == "":
		fail("offset", "can't be blank")
	case off == "now":
		req.offsetNow = true
	default:
		o, err := parseOffset(off)
		if err != nil {
			fail("offset", err.Error())
		}
		req.offset = o
	}
	req.handle = q.Get("handle")
	initial := req.offsetNow || req.offset == beforeAll
	if !initial && req.handle == "" && len(errs["offset"]) == 0 {
		fail("handle", "can't be blank when offset != -1")
	}
	req.live = isTrue(q, "live")
	switch {
	case req.live && req.offsetNow:
		fail("live", "can't be true when offset is 'now'")
	case req.live && req.offset == beforeAll:
		fail("live", "can't be true when offset == -1")
	}
	req.cursor = q.Get("cursor")
	sse := isTrue(q, "live_sse") || isTrue(q, "experimental_live_sse")
	switch {
	case sse && !req.live:
		fail("live_sse", "can't be true unless live is also true")
	case sse:
		fail("live_sse", "the fake server does not implement SSE")
	}
	for k := range q {
		if strings.HasPrefix(k, "subset__") {
			fail(k, "the fake server does not implement subset snapshots")
		}
	}

	req.def.replica = q.Get("replica")
	switch req.def.replica {
	case "":
		req.def.replica = "default"
	case "default", "full":
	default:
		fail("replica", "is invalid")
	}
	req.def.log = q.Get("log")
	switch req.def.log {
	case "":
		req.def.log = "full"
	case "full", "changes_only":
	default:
		fail("log", "is invalid")
	}
	if cols := q.Get("columns"); cols != "" {
		req.def.columns = s.parseColumns(cols, fail)
	}
	req.def.where = q.Get("where")
	req.def.params = map[string]string{}
	for k, v := range q {
		if m := paramKey.FindStringSubmatch(k); m != nil && len(v) > 0 {
			req.def.params[m[1]] = v[0]
		}
	}
	pred, msg := parsePredicate(s.schema, req.def.where, req.def.params)
	if msg != "" {
		fail("where", msg)
	}
	req.pred = pred
	return req, errs
}

func (s *Server) tableMatches(table string) bool {
	unquote := func(p string) string { return strings.Trim(p, `"`) }
	sch, name, ok := strings.Cut(table, ".")
	if !ok {
		sch, name = "public", table
	}
	return unquote(sch) == s.schema.schema && unquote(name) == s.schema.name
}

func (s *Server) parseColumns(list string, fail func(field, msg string)) []string {
	var cols, unknown []string
	for _, c := range strings.Split(list, ",") {
		c = strings.Trim(strings.TrimSpace(c), `"`)
		if !s.schema.has(c) {
			unknown = append(unknown, c)
		}
		cols = append(cols, c)
	}
	if len(unknown) > 0 {
		fail("columns", "The following columns could not be found: "+strings.Join(unknown, ", "))
	}
	if !slices.Contains(cols, s.schema.pk) {
		fail("columns", "Must include all primary key columns, missing: "+s.schema.pk)
	}
	return cols
}

// authorized checks the auth proxy's bearer token and the server's secret.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	token, secret := s.token, s.secret
	s.mu.Unlock()
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		noStore(w)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return false
	}
	q := r.URL.Query()
	if secret != "" && q.Get("secret") != secret && q.Get("api_secret") != secret {
		noStore(w)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized - Invalid API secret"})
		return false
	}
	return true
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("cache-control", "no-store")
	w.Header().Set("surrogate-control", "no-store")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("content-type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// statusWriter remembers the status written, for the recording.
type statusWriter struct {
	http.ResponseWriter
	status  int
	dropped bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
