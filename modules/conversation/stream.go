package conversation

import (
	"encoding/json"
	"unicode/utf8"
)

// streamTracker reads what the runner needs from the agent's stdout lines: the
// session id (from system/init, or the result line when there is no init) and
// the result line. Lines are relayed unchanged; this only looks.
type streamTracker struct {
	sessionID string
	sawInit   bool
	result    *resultLine
	lines     int64
	// skip: the first lines were delivered before a restart; they are read
	// back (so the session and the result line are known) but not sent again.
	skip int64
}

// delivered reports whether the next line was already delivered before a
// restart; it is then only observed.
func (s *streamTracker) delivered() bool { return s.lines < s.skip }

// lineHead is the part of every stream-json line the runner reads.
type lineHead struct {
	Type      string `json:"type"`
	Subtype   string `json:"subtype"`
	SessionID string `json:"session_id"`
}

// resultLine is the turn's terminator (claude-cli README section 3.6).
type resultLine struct {
	Subtype      string          `json:"subtype"`
	IsError      bool            `json:"is_error"`
	Result       *string         `json:"result"`
	Errors       []string        `json:"errors"`
	NumTurns     int             `json:"num_turns"`
	DurationMs   int64           `json:"duration_ms"`
	TotalCostUSD float64         `json:"total_cost_usd"`
	Usage        json.RawMessage `json:"usage"`
	SessionID    string          `json:"session_id"`
}

// observe looks at one line and returns the JSON to relay as the event: the
// line itself, or, when it is not a JSON object (cut at the line limit, or not
// JSON at all), a runner notice that carries its start.
func (s *streamTracker) observe(data []byte, truncated bool) json.RawMessage {
	s.lines++
	if truncated || !isJSONObject(data) {
		return invalidLineEvent(data, truncated)
	}
	var head lineHead
	if err := json.Unmarshal(data, &head); err != nil {
		return invalidLineEvent(data, truncated)
	}
	switch {
	case head.Type == "system" && head.Subtype == "init":
		s.sawInit = true
		if head.SessionID != "" {
			s.sessionID = head.SessionID
		}
	case head.Type == "result":
		var r resultLine
		if json.Unmarshal(data, &r) == nil {
			s.result = &r
			if s.sessionID == "" {
				s.sessionID = r.SessionID
			}
		}
	}
	return data
}

func isJSONObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return json.Valid(b)
		}
		return false
	}
	return false
}

// invalidLineMax is how much of a line that is not JSON the notice carries.
const invalidLineMax = 4 << 10

// invalidLineEvent describes a stdout line that cannot be relayed as is.
func invalidLineEvent(data []byte, truncated bool) json.RawMessage {
	head := data
	if len(head) > invalidLineMax {
		head = head[:invalidLineMax]
	}
	for !utf8.Valid(head) && len(head) > 0 {
		head = head[:len(head)-1]
	}
	ev, _ := json.Marshal(struct {
		Type      string `json:"type"`
		Subtype   string `json:"subtype"`
		Truncated bool   `json:"truncated"`
		Bytes     int    `json:"bytes"`
		Text      string `json:"text"`
	}{Type: "runner", Subtype: "invalid_line", Truncated: truncated, Bytes: len(data), Text: string(head)})
	return ev
}
