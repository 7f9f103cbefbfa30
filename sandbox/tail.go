package sandbox

import (
	"io"
	"os"
	"sync"
	"time"
)

// tailReader reads a kept turn's output file as it grows, until the turn
// has ended (ended is closed: the keeper wrote everything) and the file is
// read to its end. A write wakes it at once (grew: the manager's inotify
// watch of the file); without a watch, or in case one was missed, it also
// looks on its own, fast right after output and slower while the agent is
// quiet. Closing it ends a Read in progress.
type tailReader struct {
	f      *os.File
	ended  <-chan struct{}
	grew   <-chan struct{} // nil: no watch, poll
	stop   func()          // ends the watch
	closed chan struct{}
	close  sync.Once
}

// Bounds of the reader's own looks at the file: from tailPollMin after
// output up to tailPollMax, or tailWatchedPoll when a watch wakes it.
const (
	tailPollMin     = time.Millisecond
	tailPollMax     = 20 * time.Millisecond
	tailWatchedPoll = 250 * time.Millisecond
)

// newTailReader tails f (at path), woken by the notifier when it can watch it.
func newTailReader(f *os.File, path string, n *notifier, ended <-chan struct{}) *tailReader {
	t := &tailReader{f: f, ended: ended, closed: make(chan struct{}), stop: func() {}}
	if grew, stop, err := n.watch(path, inotifyWrite); err == nil {
		t.grew, t.stop = grew, stop
	}
	return t
}

func (t *tailReader) Read(p []byte) (int, error) {
	wait, most := tailPollMin, tailPollMax
	if t.grew != nil {
		wait, most = tailWatchedPoll, tailWatchedPoll
	}
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
		case <-t.grew:
		case <-timer.C:
		case <-t.ended:
		case <-t.closed:
		}
		wait = min(wait*2, most)
	}
}

func (t *tailReader) Close() error {
	err := os.ErrClosed
	t.close.Do(func() {
		close(t.closed)
		t.stop()
		err = t.f.Close()
	})
	return err
}
