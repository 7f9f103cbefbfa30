package relay

import "io"

// maxModelName bounds the model name the sniffer keeps.
const maxModelName = 256

// modelSniffer passes a request body through unchanged and picks the
// top-level "model" string out of the JSON on the way, in constant memory
// (keys and strings deeper in the body, such as a tool input's "model", are
// not looked at). It names the model of a request whose response carries no
// model: one the upstream refused, or one that never arrived.
type modelSniffer struct {
	rc io.ReadCloser

	depth    int
	inString bool
	escaped  bool
	isKey    bool // the string being read is a key of the top-level object
	expect   bool // at depth 1, the next string is a key
	buf      []byte
	capture  bool // the string being read is kept in buf
	lastKey  string
	model    string
	found    bool
	overflow bool
}

func newModelSniffer(rc io.ReadCloser) *modelSniffer { return &modelSniffer{rc: rc} }

func (s *modelSniffer) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	if !s.found {
		s.scan(p[:n])
	}
	return n, err
}

func (s *modelSniffer) Close() error { return s.rc.Close() }

// Model is the request's top-level model, "" when none was seen (yet).
func (s *modelSniffer) Model() string { return s.model }

func (s *modelSniffer) scan(b []byte) {
	for _, c := range b {
		if s.found {
			return
		}
		if s.inString {
			s.inString = s.stringByte(c)
			continue
		}
		switch c {
		case '"':
			s.inString, s.escaped, s.overflow = true, false, false
			s.buf = s.buf[:0]
			s.isKey = s.depth == 1 && s.expect
			s.capture = s.depth == 1 && (s.isKey || s.lastKey == "model")
		case '{', '[':
			s.depth++
			s.expect = s.depth == 1 && c == '{'
		case '}', ']':
			s.depth--
		case ',':
			if s.depth == 1 {
				s.expect, s.lastKey = true, ""
			}
		case ':':
			if s.depth == 1 {
				s.expect = false
			}
		}
	}
}

// stringByte reads one byte of a string; false when the string ended.
func (s *modelSniffer) stringByte(c byte) bool {
	switch {
	case s.escaped:
		s.escaped = false
	case c == '\\':
		s.escaped = true
		s.overflow = true // an escaped name is not one the relay keeps
		return true
	case c == '"':
		s.endString()
		return false
	}
	if s.capture && !s.overflow {
		if len(s.buf) >= maxModelName {
			s.overflow = true
		} else {
			s.buf = append(s.buf, c)
		}
	}
	return true
}

func (s *modelSniffer) endString() {
	if !s.capture {
		return
	}
	switch {
	case s.isKey:
		s.lastKey = ""
		if !s.overflow {
			s.lastKey = string(s.buf)
		}
	case s.lastKey == "model":
		if !s.overflow {
			s.model = string(s.buf)
		}
		s.found = true
	}
}
