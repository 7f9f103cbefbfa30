package reporter

import (
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by Send when the reporter is not running.
var ErrClosed = errors.New("reporter is not running")

// commitReq is one producer's Send waiting for its items to be durable.
type commitReq struct {
	items []Item
	bytes int64
	done  chan error
}

var reqPool = sync.Pool{New: func() any { return &commitReq{done: make(chan error, 1)} }}

// committer is group commit: one goroutine writes everything pending from
// all producers with one write and one fdatasync.
type committer struct {
	ob *outbox
	// onCommit is called after each commit that stored items.
	onCommit func(lastID uint64, items int, bytes int64)
	// onError is called when a commit fails.
	onError func(err error)

	mu     sync.Mutex
	queue  []*commitReq
	spare  []*commitReq
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newCommitter(ob *outbox) *committer {
	return &committer{ob: ob, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// enqueue hands a request to the committer; false when it has stopped.
func (c *committer) enqueue(r *commitReq) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// run commits until stop is closed, then commits what is left and returns.
func (c *committer) run(stop <-chan struct{}) {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
			c.commitPending()
		case <-stop:
			c.mu.Lock()
			c.closed = true
			c.mu.Unlock()
			c.commitPending()
			return
		}
	}
}

func (c *committer) commitPending() {
	c.mu.Lock()
	queue := c.queue
	c.queue, c.spare = c.spare[:0], queue
	c.mu.Unlock()
	if len(queue) == 0 {
		return
	}
	var n int
	var size int64
	for _, r := range queue {
		n += len(r.items)
		size += r.bytes
	}
	last, err := c.ob.appendItems(queue, time.Now())
	if err != nil {
		c.onError(err)
	} else {
		c.onCommit(last, n, size)
	}
	for i, r := range queue {
		r.done <- err
		queue[i] = nil
	}
}
