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

// committer is group commit: one goroutine stores everything pending from
// all producers, and the sender's deletions, in one transaction and fsync.
type committer struct {
	ob *outbox
	// onCommit is called after each successful transaction that stored items.
	onCommit func(lastKey uint64, items int, bytes int64)
	// onError is called when a transaction fails.
	onError func(err error)

	mu       sync.Mutex
	queue    []*commitReq
	spare    []*commitReq
	deleteTo uint64
	closed   bool
	groups   [][]Item // reused by the committer goroutine
	wake     chan struct{}
	done     chan struct{}
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
	c.signal()
	return true
}

// deleteUpTo asks for the removal of every key up to and including key, with
// the next transaction. The sender does not wait for it: it reads on from key+1.
func (c *committer) deleteUpTo(key uint64) {
	c.mu.Lock()
	if key > c.deleteTo {
		c.deleteTo = key
	}
	c.mu.Unlock()
	c.signal()
}

func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run commits until stop is closed, then commits what is left and returns.
func (c *committer) run(stop <-chan struct{}) {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-stop:
			c.mu.Lock()
			c.closed = true
			c.mu.Unlock()
			c.commitPending()
			return
		}
		c.commitPending()
	}
}

func (c *committer) commitPending() {
	c.mu.Lock()
	queue, del := c.queue, c.deleteTo
	c.queue, c.spare = c.spare[:0], queue
	c.deleteTo = 0
	c.mu.Unlock()
	if len(queue) == 0 && del == 0 {
		return
	}
	groups := c.groups[:0]
	var n int
	var size int64
	for _, r := range queue {
		groups = append(groups, r.items)
		n += len(r.items)
		size += r.bytes
	}
	last, err := c.ob.commit(groups, del, time.Now())
	if err != nil {
		c.onError(err)
		if del > 0 { // keep the deletion for the next transaction
			c.mu.Lock()
			if del > c.deleteTo {
				c.deleteTo = del
			}
			c.mu.Unlock()
		}
	} else if n > 0 {
		c.onCommit(last, n, size)
	}
	for i, r := range queue {
		r.done <- err
		queue[i] = nil
	}
	clear(groups)
	c.groups = groups[:0]
}
