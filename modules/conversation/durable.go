package conversation

import (
	"context"
	"errors"
	"fmt"
	stdsync "sync"
	"syscall"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/retry"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/containerd/errdefs"
	"go.uber.org/zap"
)

// durableBackoff paces the retries of a write the data dir refused: local,
// so short waits, and soon after space is back.
var durableBackoff = retry.Backoff{Base: 50 * time.Millisecond, Cap: 2 * time.Second}

// writeHealth is whether the manager's writes (turn records, sessions,
// sends to the outbox) succeed. While one fails the turn that made it waits
// and retries the same write; StorageErr says so, so the intake takes no new
// work. The change is logged once each way, not per failure.
type writeHealth struct {
	mu      stdsync.Mutex
	err     error // the last failure while failing
	since   time.Time
	waiting int // writes being retried
}

// StorageErr is a failing write's error while the manager cannot record or
// send (a full or failing data dir), nil when it can.
func (m *Manager) StorageErr() error {
	m.writes.mu.Lock()
	defer m.writes.mu.Unlock()
	if m.writes.err == nil {
		return nil
	}
	return fmt.Errorf("turn records: %w", m.writes.err)
}

// errGaveUp marks a write durably stopped retrying because its context (or
// the runner) ended: not stored, and the record says where a restart picks up.
var errGaveUp = errors.New("gave up waiting for the data dir")

// retryable reports whether a failed write may succeed later as it is: a
// refused write to the data dir (an errno: ENOSPC, EDQUOT, EIO, ...) or the
// outbox's storage error. Anything else (encoding, a closed store or
// reporter, the end of ctx) is not.
func retryable(err error) bool {
	if errors.Is(err, reporter.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var errno syscall.Errno
	return reporter.IsStorage(err) || errdefs.IsUnavailable(err) || errors.As(err, &errno)
}

// durably runs write until it succeeds, retrying with backoff while it fails
// as a full or failing disk makes it fail; it gives up when ctx or the
// manager's context ends (the write's record then says where a restart picks
// up) or the error is not retryable. A retried write must be the same write
// (same record, same items with the same seqs).
func (m *Manager) durably(ctx context.Context, what, messageID string, write func() error) error {
	err := write()
	if err == nil || !retryable(err) {
		return err
	}
	m.writes.mu.Lock()
	m.writes.waiting++
	m.writes.mu.Unlock()
	defer m.writeEnded()
	m.writeFailed(what, messageID, err)
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w: %w (%v)", what, errGaveUp, err, ctx.Err())
		case <-m.ctx.Done():
			return fmt.Errorf("%s: %w: %w (runner stopping)", what, errGaveUp, err)
		case <-time.After(durableBackoff.Delay(attempt, 0)):
		}
		if err = write(); err == nil {
			m.writeRecovered()
			return nil
		}
		if !retryable(err) {
			return err
		}
		m.writeFailed(what, messageID, err)
	}
}

func (m *Manager) writeFailed(what, messageID string, err error) {
	w := &m.writes
	w.mu.Lock()
	first := w.err == nil
	if first {
		w.since = time.Now()
	}
	w.err = err
	w.mu.Unlock()
	m.metrics.writeFailures.Inc()
	if first {
		m.log.Error("cannot record or send; turns wait and retry until the data dir can be written",
			zap.String("write", what), zap.String("message_id", messageID), zap.Error(err))
	} else {
		m.log.Debug("write still failing; retrying", zap.String("write", what), zap.String("message_id", messageID), zap.Error(err))
	}
}

// writeEnded: a retried write is done (stored, or given up). With none left
// the manager is no longer failing (a write given up on says nothing about
// the next).
func (m *Manager) writeEnded() {
	m.writes.mu.Lock()
	if m.writes.waiting--; m.writes.waiting == 0 {
		m.writes.err = nil
	}
	m.writes.mu.Unlock()
}

func (m *Manager) writeRecovered() {
	w := &m.writes
	w.mu.Lock()
	was, since := w.err, w.since
	w.err = nil
	w.mu.Unlock()
	if was != nil {
		m.log.Info("turn records and sends succeed again", zap.Duration("after", time.Since(since).Round(time.Millisecond)))
	}
}
