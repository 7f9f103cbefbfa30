package sandbox

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/moby/moby/api/pkg/stdcopy"
)

// Line is one line the sandboxed process printed on stdout, without its "\n".
// A line longer than the line limit is cut there and marked Truncated; so is
// the last line when the output limit cut it.
type Line struct {
	Data      []byte
	Truncated bool
}

// stderrTail is how much of the end of stderr a run keeps.
const stderrTail = 64 << 10

// readBuffer is the read size of the line reader; lines longer than this are
// assembled from several reads, up to the line limit.
const readBuffer = 64 << 10

var errDetached = errors.New("stopped following the sandbox output")

// stream turns the engine's multiplexed stdout/stderr into lines, holding at
// most one line being built and one being handed over: a slow consumer slows
// the reading (and so the container's writes), it never loses lines.
type stream struct {
	lines       chan Line
	lineLimit   int
	outputLimit int64
	skip        int64  // lines dropped before the first one delivered (Attach)
	onLimit     func() // called once when the output limit is reached
	stop        <-chan struct{}

	total     atomic.Int64 // stdout+stderr bytes read
	limitHit  atomic.Bool
	truncated atomic.Int64
	count     int64 // lines seen, skipped ones included
	stderr    tailBuffer
	limitOnce sync.Once
	done      chan struct{} // closed after lines is closed
	err       error         // why the stream ended, nil at a clean EOF
}

func newStream(lineLimit, outputLimit, skip int64, stop <-chan struct{}, onLimit func()) *stream {
	return &stream{
		lines:       make(chan Line),
		lineLimit:   int(lineLimit),
		outputLimit: outputLimit,
		skip:        skip,
		onLimit:     onLimit,
		stop:        stop,
		stderr:      tailBuffer{max: stderrTail},
		done:        make(chan struct{}),
	}
}

// run demultiplexes src until it ends and delivers the lines; it closes lines
// and then done.
func (s *stream) run(src io.Reader) {
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(&limitWriter{s: s, w: pw}, &limitWriter{s: s, w: &s.stderr}, src)
		pw.CloseWithError(err)
	}()
	s.err = s.readLines(pr)
	pr.CloseWithError(errDetached) // unblocks the copier when we stopped early
	close(s.lines)
	close(s.done)
}

func (s *stream) readLines(r io.Reader) error {
	br := bufio.NewReaderSize(r, readBuffer)
	var buf []byte
	cut := false
	for {
		chunk, err := br.ReadSlice('\n')
		complete := err == nil
		data := chunk
		if complete {
			data = chunk[:len(chunk)-1]
		}
		if room := s.lineLimit - len(buf); len(data) > room {
			data, cut = data[:room], true
		}
		buf = append(buf, data...)
		if complete {
			if e := s.emit(buf, cut); e != nil {
				return e
			}
			buf, cut = nil, false
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 || cut {
			if e := s.emit(buf, cut || s.limitHit.Load()); e != nil {
				return e
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
}

func (s *stream) emit(data []byte, cut bool) error {
	s.count++
	if s.count <= s.skip {
		return nil
	}
	if cut {
		s.truncated.Add(1)
	}
	select {
	case s.lines <- Line{Data: data, Truncated: cut}:
		return nil
	case <-s.stop:
		return errDetached
	}
}

// limitWriter counts every byte towards the output limit and drops what
// comes after it, still draining the source so the container never blocks
// on a full pipe while it is being stopped.
type limitWriter struct {
	s *stream
	w io.Writer
}

func (l *limitWriter) Write(p []byte) (int, error) {
	n := len(p)
	before := l.s.total.Add(int64(n)) - int64(n)
	room := l.s.outputLimit - before
	if room <= 0 {
		l.s.reachLimit()
		return n, nil
	}
	if int64(n) > room {
		p = p[:room]
	}
	if _, err := l.w.Write(p); err != nil {
		return 0, err
	}
	if int64(n) > room {
		l.s.reachLimit()
	}
	return n, nil
}

func (s *stream) reachLimit() {
	s.limitHit.Store(true)
	s.limitOnce.Do(func() {
		if s.onLimit != nil {
			s.onLimit()
		}
	})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-t.max:]...)
	}
	return n, nil
}

// Bytes returns a copy of the last max bytes.
func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return append([]byte(nil), b...)
}
