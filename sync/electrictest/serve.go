package electrictest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// serveShape answers one validated-or-not GET /v1/shape as the real server does.
func (s *Server) serveShape(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	req, errs := s.parseRequest(r.URL.Query())
	if len(errs) > 0 {
		badRequest(w, errs)
		return
	}
	s.mu.Lock()
	hold, limit := s.hold, s.chunk
	var sh *shape
	if req.offsetNow || req.offset == beforeAll {
		sh = s.getOrCreate(req.def, req.pred)
	} else {
		sh = s.handles[req.handle]
		if sh == nil || sh.deleted || sh.def.key() != req.def.key() {
			handle := s.refetchHandle(sh, req)
			s.mu.Unlock()
			mustRefetch(w, handle)
			return
		}
	}
	if req.offsetNow {
		p := page{next: sh.end(), upToDate: true}
		lsn := s.lsn
		s.mu.Unlock()
		s.respond(w, r, sh, req, p, lsn, hold, false)
		return
	}

	start := time.Now()
	for {
		// s.mu is held at the top of every round.
		if sh.deleted {
			handle := s.refetchHandle(sh, req)
			s.mu.Unlock()
			mustRefetch(w, handle)
			return
		}
		p := sh.read(req.offset, limit)
		lsn := s.lsn
		waitUntil := start.Add(hold)
		switch {
		case p.outOfBounds:
			// The real server waits half a long-poll for the offset to appear.
			waitUntil = start.Add(hold / 2)
			if !time.Now().Before(waitUntil) {
				s.mu.Unlock()
				badRequest(w, map[string][]string{"offset": {"out of bounds for this shape"}})
				return
			}
		case !req.live || len(p.msgs) > 0 || !p.upToDate:
			s.mu.Unlock()
			s.respond(w, r, sh, req, p, lsn, hold, true)
			return
		case !time.Now().Before(waitUntil):
			s.mu.Unlock()
			s.respond(w, r, sh, req, p, lsn, hold, false)
			return
		}
		changed := s.changed
		s.mu.Unlock()
		timer := time.NewTimer(time.Until(waitUntil))
		select {
		case <-changed:
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		case <-s.closing:
			timer.Stop()
			return
		}
		timer.Stop()
		s.mu.Lock()
	}
}

// refetchHandle is the handle a 409 names: the definition's current shape,
// or none when a rotated shape has no successor yet. Call with s.mu held.
func (s *Server) refetchHandle(old *shape, req request) string {
	if old != nil && old.deleted && old.def.key() == req.def.key() {
		if cur := s.shapes[req.def.key()]; cur != nil {
			return cur.handle
		}
		return ""
	}
	return s.getOrCreate(req.def, req.pred).handle
}

type control struct {
	Headers map[string]any `json:"headers"`
}

// respond writes a 200 (or 304) with the page and the headers of PROTOCOL 1.3.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, sh *shape, req request, p page, lsn int64, hold time.Duration, hasData bool) {
	body := make([]json.RawMessage, 0, len(p.msgs)+1)
	body = append(body, p.msgs...)
	if p.snapshotEnd {
		b, _ := json.Marshal(control{Headers: map[string]any{"control": "snapshot-end",
			"xmin": strconv.FormatInt(lsn, 10), "xmax": strconv.FormatInt(lsn+1, 10), "xip_list": []string{}}})
		body = append(body, b)
	}
	if p.upToDate {
		b, _ := json.Marshal(control{Headers: map[string]any{"control": "up-to-date",
			"global_last_seen_lsn": strconv.FormatInt(lsn, 10)}})
		body = append(body, b)
	}
	reqOffset := req.offset.String()
	if req.offsetNow {
		reqOffset = "now"
	}
	h := w.Header()
	h.Set("electric-handle", sh.handle)
	h.Set("electric-offset", p.next.String())
	h.Set("electric-has-data", strconv.FormatBool(hasData))
	if p.upToDate {
		h.Set("electric-up-to-date", "")
	}
	if req.live {
		h.Set("electric-cursor", nextCursor(hold, req.cursor))
	} else {
		h.Set("electric-schema", s.schema.schemaHeader(req.def.columns))
	}
	etag := sh.handle + ":" + reqOffset + ":" + p.next.String()
	if len(p.msgs) == 0 && !p.snapshotEnd {
		etag += ":" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	h.Set("etag", strconv.Quote(etag))
	switch {
	case req.offset == beforeAll && !req.offsetNow:
		h.Set("cache-control", cacheInitial)
	case req.live:
		h.Set("cache-control", cacheLive)
	default:
		h.Set("cache-control", cacheNonLive)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == h.Get("etag") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

var mustRefetchBody = []map[string]any{{"headers": map[string]string{"control": "must-refetch"}}}

func mustRefetch(w http.ResponseWriter, handle string) {
	if handle != "" {
		w.Header().Set("electric-handle", handle)
		w.Header().Set("cache-control", cache409)
	} else {
		w.Header().Set("cache-control", cache409None)
	}
	writeJSON(w, http.StatusConflict, mustRefetchBody)
}

func badRequest(w http.ResponseWriter, errs map[string][]string) {
	noStore(w)
	writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid request", "errors": errs})
}
