package relay

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// usage is what one streamed Messages response cost.
type usage struct{ input, output int64 }

// maxSSELine bounds the line the usage scanner keeps; the events that carry
// usage (message_start, message_delta) are small, longer lines are skipped.
const maxSSELine = 64 << 10

// usageReader passes an SSE body through unchanged and reads the token usage
// on the way: input_tokens from message_start, the final output_tokens from
// message_delta (cumulative). done is called once, at EOF, error or Close.
type usageReader struct {
	rc   io.ReadCloser
	done func(usage)

	line    []byte
	skip    bool // the current line is too long to matter
	u       usage
	reports sync.Once
}

func newUsageReader(rc io.ReadCloser, done func(usage)) *usageReader {
	return &usageReader{rc: rc, done: done}
}

func (u *usageReader) Read(p []byte) (int, error) {
	n, err := u.rc.Read(p)
	u.scan(p[:n])
	if err != nil {
		u.report()
	}
	return n, err
}

func (u *usageReader) Close() error {
	u.report()
	return u.rc.Close()
}

func (u *usageReader) report() { u.reports.Do(func() { u.done(u.u) }) }

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
			Usage struct {
				InputTokens int64 `json:"input_tokens"`
			} `json:"usage"`
		} `json:"message"`
		Usage struct {
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(bytes.TrimSpace(data), &ev) != nil {
		return
	}
	switch ev.Type {
	case "message_start":
		u.u.input += ev.Message.Usage.InputTokens
	case "message_delta":
		u.u.output = ev.Usage.OutputTokens
	}
}
