package reporter

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// StorageComponent is the readiness component that says whether the outbox
// can be written.
const StorageComponent = "outbox"

// storage follows the outbox's writes: while commits fail (ENOSPC, EIO on
// the data dir) the "outbox" readiness component is not ready with the
// reason, and StorageErr says so to the producers that wait and retry; the
// first good commit clears it. It logs once per change, not per failure.
type storage struct {
	mu    sync.Mutex
	err   error
	since time.Time
	fails int
}

// failed records a failed commit; it logs and flips readiness only when the
// outbox was healthy.
func (r *Reporter) storageFailed(err error) {
	s := &r.store
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.since = time.Now()
	}
	s.err, s.fails = err, s.fails+1
	s.mu.Unlock()
	r.m.commitFailures.Inc()
	if first {
		r.storeReady.NotReady(fmt.Sprintf("the outbox cannot be written (%s); items already stored are still delivered, producers wait and retry", clipReason(err.Error())))
		r.log.Error("outbox writes failing; producers wait and retry, delivery of stored items goes on", zap.Error(err))
	}
}

// storageOK records a good commit; it logs and flips readiness only when the
// outbox was failing.
func (r *Reporter) storageOK() {
	s := &r.store
	s.mu.Lock()
	was, since, fails := s.err, s.since, s.fails
	s.err, s.fails = nil, 0
	s.mu.Unlock()
	if was != nil {
		r.storeReady.Ready()
		r.log.Info("outbox writes succeed again", zap.Int("failed_commits", fails), zap.Duration("after", time.Since(since).Round(time.Millisecond)))
	}
}

// StorageErr is the last commit's error while the outbox cannot be written,
// nil when it can: the intake does not take new work while it is not nil.
func (r *Reporter) StorageErr() error {
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	if r.store.err == nil {
		return nil
	}
	return fmt.Errorf("outbox: %w", r.store.err)
}

// errStorage marks a failed outbox write: Send's error wraps it (and the
// cause) when the items could not be stored but may be once the data dir
// can be written again.
var errStorage = errors.New("outbox cannot be written")

// IsStorage reports whether Send failed because the outbox could not be
// written: nothing was stored, and the same Send may succeed later.
func IsStorage(err error) bool { return errors.Is(err, errStorage) }
