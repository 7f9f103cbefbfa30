package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"
)

// emitter owns stdout: whole lines go through one buffered writer, flushed
// after each line (or batch), so a reader never sees a partial JSON object
// unless the process is killed mid-write.
type emitter struct {
	mu     sync.Mutex
	w      *bufio.Writer
	closed bool
}

func newEmitter(w io.Writer) *emitter {
	return &emitter{w: bufio.NewWriterSize(w, 256<<10)}
}

// line writes v as one JSON line and flushes.
func (e *emitter) line(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"type": "system", "subtype": "fake_agent_error", "error": err.Error()})
	}
	e.batch(func(w *bufio.Writer) {
		w.Write(b)
		w.WriteByte('\n')
	})
}

// batch runs fn with exclusive use of the writer, then flushes.
func (e *emitter) batch(fn func(w *bufio.Writer)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	fn(e.w)
	e.w.Flush()
}

// finish writes the last lines (fn may be nil), flushes and refuses any
// later output. It waits at most wait for a writer in progress; when that
// does not finish it gives up without writing, so the caller can still exit.
func (e *emitter) finish(wait time.Duration, fn func(w *bufio.Writer)) bool {
	deadline := time.Now().Add(wait)
	for !e.mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	defer e.mu.Unlock()
	if !e.closed && fn != nil {
		fn(e.w)
	}
	e.w.Flush()
	e.closed = true
	return true
}

// exit flushes what is complete and exits with code.
func (e *emitter) exit(code int) {
	e.finish(2*time.Second, nil)
	os.Exit(code)
}
