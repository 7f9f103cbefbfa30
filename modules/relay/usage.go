package relay

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// usage is what one Messages response cost, as the upstream reported it.
type usage struct {
	model                                   string
	input, output, cacheCreation, cacheRead int64
}

// tokens is what a budget counts: input, output and cache creation (cache
// reads are cheap and not counted).
func (u usage) tokens() int64 { return u.input + u.output + u.cacheCreation }

// usageFields are the token counts of the API's usage object (in
// message_start.message.usage, message_delta.usage and a JSON body's usage).
type usageFields struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// maxSSELine bounds the line the usage scanner keeps; the events that carry
// usage (message_start, message_delta) are small, longer lines are skipped.
const maxSSELine = 64 << 10

// maxJSONBody bounds the non-streamed body the usage reader keeps a copy of
// to read its usage at the end; a longer one counts as a request with no
// usage (the body still passes whole).
const maxJSONBody = 4 << 20

// usageReader passes a Messages response body through unchanged and reads the
// token usage on the way. Streamed (SSE): the model, input and cache tokens
// from message_start, the final output_tokens from message_delta
// (cumulative; a message_delta that carries input or cache counts updates
// them too). Not streamed (JSON): the body's model and usage, read at its
// end. done is called once, at EOF, error or Close, with what was read so
// far: a cut stream or an error body reports what it had, often nothing.
type usageReader struct {
	rc   io.ReadCloser
	sse  bool
	done func(usage)

	line    []byte // SSE: the current line
	skip    bool   // SSE: the current line is too long to matter
	body    []byte // JSON: the body so far, up to maxJSONBody
	tooBig  bool
	u       usage
	reports sync.Once
}

func newUsageReader(rc io.ReadCloser, sse bool, done func(usage)) *usageReader {
	return &usageReader{rc: rc, sse: sse, done: done}
}

func (u *usageReader) Read(p []byte) (int, error) {
	n, err := u.rc.Read(p)
	if u.sse {
		u.scan(p[:n])
	} else {
		u.keepBody(p[:n])
	}
	if err != nil {
		u.report(err == io.EOF)
	}
	return n, err
}

func (u *usageReader) Close() error {
	u.report(false)
	return u.rc.Close()
}

// report hands over the usage once; a JSON body is only read when it was
// read to its end.
func (u *usageReader) report(eof bool) {
	u.reports.Do(func() {
		if !u.sse && eof && !u.tooBig {
			u.parseBody()
		}
		u.body = nil
		u.done(u.u)
	})
}

func (u *usageReader) keepBody(b []byte) {
	if u.tooBig {
		return
	}
	if len(u.body)+len(b) > maxJSONBody {
		u.tooBig, u.body = true, nil
		return
	}
	u.body = append(u.body, b...)
}

func (u *usageReader) parseBody() {
	var msg struct {
		Model string      `json:"model"`
		Usage usageFields `json:"usage"`
	}
	if json.Unmarshal(u.body, &msg) != nil {
		return
	}
	u.u.model = msg.Model
	u.u.input, u.u.output = msg.Usage.InputTokens, msg.Usage.OutputTokens
	u.u.cacheCreation, u.u.cacheRead = msg.Usage.CacheCreationInputTokens, msg.Usage.CacheReadInputTokens
}

func (u *usageReader) scan(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			u.keep(b)
			return
		}
		u.keep(b[:i])
		if !u.skip {
			u.event(u.line)
		}
		u.line, u.skip = u.line[:0], false
		b = b[i+1:]
	}
}

func (u *usageReader) keep(b []byte) {
	if u.skip {
		return
	}
	if len(u.line)+len(b) > maxSSELine {
		u.skip, u.line = true, u.line[:0]
		return
	}
	u.line = append(u.line, b...)
}

var usageKey = []byte(`"usage"`)

// event reads one "data: {...}" line that mentions usage.
func (u *usageReader) event(line []byte) {
	data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
	if !ok || !bytes.Contains(data, usageKey) {
		return
	}
	var ev struct {
		Type    string `json:"type"`
		Message struct {
			Model string      `json:"model"`
			Usage usageFields `json:"usage"`
		} `json:"message"`
		Usage usageFields `json:"usage"`
	}
	if json.Unmarshal(bytes.TrimSpace(data), &ev) != nil {
		return
	}
	switch ev.Type {
	case "message_start":
		m := ev.Message.Usage
		u.u.model = ev.Message.Model
		u.u.input, u.u.cacheCreation, u.u.cacheRead = m.InputTokens, m.CacheCreationInputTokens, m.CacheReadInputTokens
		u.u.output = m.OutputTokens
	case "message_delta":
		d := ev.Usage
		u.u.output = max(u.u.output, d.OutputTokens)
		u.u.input = max(u.u.input, d.InputTokens)
		u.u.cacheCreation = max(u.u.cacheCreation, d.CacheCreationInputTokens)
		u.u.cacheRead = max(u.u.cacheRead, d.CacheReadInputTokens)
	}
}
