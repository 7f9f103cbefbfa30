package sandbox

import (
	"io"
	"os"
	"time"
)

// tailReader reads a kept turn's output file as it grows, until the turn
// has ended (ended is closed: the keeper wrote everything) and the file is
// read to its end. Closing it ends a Read in progress.
type tailReader struct {
	f      *os.File
	ended  <-chan struct{}
	closed chan struct{}
}

// Polling bounds of a growing output file: fast right after output, slower
// while the agent is quiet.
const (
	tailPollMin = time.Millisecond
	tailPollMax = 20 * time.Millisecond
)

func newTailReader(f *os.File, ended <-chan struct{}) *tailReader {
	return &tailReader{f: f, ended: ended, closed: make(chan struct{})}
}

func (t *tailReader) Read(p []byte) (int, error) {
	wait := tailPollMin
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		n, err := t.f.Read(p)
		if n > 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		select {
		case <-t.ended:
			if n, _ := t.f.Read(p); n > 0 {
				return n, nil
			}
			return 0, io.EOF
		case <-t.closed:
			return 0, errDetached
		default:
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-t.ended:
		case <-t.closed:
		}
		wait = min(wait*2, tailPollMax)
	}
}

func (t *tailReader) Close() error {
	select {
	case <-t.closed:
	default:
		close(t.closed)
	}
	return t.f.Close()
}
