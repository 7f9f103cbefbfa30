package durable

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Group commits the write transactions of a bbolt database that several
// goroutines ask for at once as one transaction: one fdatasync for all of
// them instead of one each, one after the other (bbolt has a single
// writer). Unlike bbolt's own Batch it never waits for company: a write
// that finds no commit in progress is committed at once, and the writes
// that arrive during a commit go together in the next one. Each Update
// returns once its changes are durable.
//
// A function may run more than once (the transaction it shared failed
// because of another one, and it is run again on its own), so it must only
// write what it is given, as bbolt's Batch asks.
type Group struct {
	db *bolt.DB

	mu    sync.Mutex
	queue []*groupCall
	busy  bool // a goroutine is committing the queue
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	err  error
	done chan struct{}
}

// NewGroup group-commits db's writes.
func NewGroup(db *bolt.DB) *Group { return &Group{db: db} }

// Update runs fn in a write transaction, with whatever other writes are
// waiting, and returns once the transaction is committed (fn's error, or
// the commit's).
func (g *Group) Update(fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.busy {
		g.mu.Unlock()
		<-c.done
		return c.err
	}
	g.busy = true
	g.mu.Unlock()
	// No commit in progress: this goroutine commits its write (and any that
	// came meanwhile) and leaves the writes queued during that commit to a
	// goroutine of their own, so its caller does not wait for them.
	g.commit(g.take())
	if batch := g.take(); len(batch) > 0 {
		go g.drain(batch)
	}
	return c.err
}

// take empties the queue; when it is empty no commit is in progress any more.
func (g *Group) take() []*groupCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	batch := g.queue
	g.queue = nil
	if len(batch) == 0 {
		g.busy = false
	}
	return batch
}

// drain commits batch and what is queued meanwhile, until nothing is.
func (g *Group) drain(batch []*groupCall) {
	for len(batch) > 0 {
		g.commit(batch)
		batch = g.take()
	}
}

// commit runs a batch in one transaction. When a function fails, the
// transaction is rolled back, that function is run again on its own (its
// error is then its own) and the others are committed without it.
func (g *Group) commit(batch []*groupCall) {
	for len(batch) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range batch {
				if err := c.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 || len(batch) == 1 {
			for _, c := range batch {
				c.err = err
				close(c.done)
			}
			return
		}
		solo := batch[failed]
		solo.err = g.db.Update(solo.fn)
		close(solo.done)
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}
