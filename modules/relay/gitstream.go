package relay

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// gitResponse is the answer to the sandbox: it counts the bytes, remembers
// whether anything was written, hands every body byte to tee (the
// receive-pack result parser) and flushes each write (git waits on
// progress and results as they come).
type gitResponse struct {
	http.ResponseWriter
	bytes  prometheus.Counter
	tee    io.Writer
	status int
	wrote  bool
}

func (w *gitResponse) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *gitResponse) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.tee != nil {
		_, _ = w.tee.Write(b)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes.Add(float64(n))
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	return n, err
}

func (w *gitResponse) code() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.status
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	c prometheus.Counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.c.Add(float64(n))
	return n, err
}

// WriteTo is how the HTTP client sends the body upstream: in copies of
// gitCopySize, where its own copy would take 32 KiB at a time.
func (c *countingReader) WriteTo(w io.Writer) (int64, error) {
	return copyGit(w, c)
}

// gitCopySize is the buffer of the relay's copies of git data (packs):
// fewer, larger reads and writes.
const gitCopySize = 128 << 10

var gitBuffers = sync.Pool{New: func() any { b := make([]byte, gitCopySize); return &b }}

// copyGit copies src to dst through a pooled buffer of gitCopySize, never
// through either side's own ReadFrom or WriteTo (which would pick a smaller
// buffer of their own).
func copyGit(dst io.Writer, src io.Reader) (int64, error) {
	buf := gitBuffers.Get().(*[]byte)
	defer gitBuffers.Put(buf)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf)
}

// errPushTooLarge ends a push's body once it passed the size limit: the
// upstream gets a cut request and updates no ref.
var errPushTooLarge = errors.New("push larger than the limit")

// limitReader reads at most left bytes of r, then fails with
// errPushTooLarge (and sets over) instead of the next byte.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.over {
		return 0, errPushTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		l.over = true
		return int(l.left), errPushTooLarge
	}
	l.left -= int64(n)
	return n, err
}

func gzipReader(r io.Reader) (io.Reader, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("gzip request body: %w", err)
	}
	return zr, nil
}
