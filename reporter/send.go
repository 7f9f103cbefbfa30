package reporter

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Send stores items durably in the outbox, in order and in one transaction,
// and returns once they are on disk; the sender delivers them later. It waits
// while the outbox is over its size bound (backpressure) and fails only when
// ctx ends during that wait, an item could not be encoded, the reporter is
// not running, or the outbox cannot be written. On error nothing was stored.
// A failed write (a full or failing data dir) is an error IsStorage reports:
// the same items may be sent again and get the same place in the log, and
// the caller should wait and retry (StorageErr says when it can write).
func (r *Reporter) Send(ctx context.Context, items ...Item) error {
	if len(items) == 0 {
		return nil
	}
	var size int64
	for i, it := range items {
		if err := it.Err(); err != nil {
			return fmt.Errorf("send item %d of %d: %w", i+1, len(items), err)
		}
		if len(it.buf) > maxItemBytes {
			return fmt.Errorf("send item %d of %d: %d bytes is more than the outbox can store", i+1, len(items), len(it.buf))
		}
		size += recordSize(it.buf)
	}
	com := r.com.Load()
	if com == nil {
		return ErrClosed
	}
	if err := r.waitForRoom(ctx); err != nil {
		return err
	}
	req := reqPool.Get().(*commitReq)
	req.items, req.bytes = items, size
	if !com.enqueue(req) {
		req.items = nil
		reqPool.Put(req)
		return ErrClosed
	}
	err := <-req.done
	req.items = nil
	reqPool.Put(req)
	if err != nil {
		return fmt.Errorf("store %d items in the outbox: %w: %w", len(items), errStorage, err)
	}
	return nil
}

// waitForRoom blocks while the outbox holds more than cfg.Outbox.MaxSize bytes.
func (r *Reporter) waitForRoom(ctx context.Context) error {
	limit := int64(r.cfg.Outbox.MaxSize)
	if limit <= 0 || r.pending.Load() <= limit {
		return nil
	}
	r.m.waits.Inc()
	r.m.waiting.Inc()
	defer r.m.waiting.Dec()
	if r.overBound.CompareAndSwap(false, true) {
		r.log.Warn("outbox over its size bound: producers wait for delivery",
			zap.Int64("outbox_bytes", r.pending.Load()), zap.Int64("max_bytes", limit))
	}
	for {
		ch := r.progressChan()
		if r.pending.Load() <= limit {
			return nil
		}
		select {
		case <-ch:
		case <-r.stopped:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("wait for room in the outbox: %w", ctx.Err())
		}
	}
}

// committedItems runs on the committer after a transaction stored items.
func (r *Reporter) committedItems(lastID uint64, n int, size int64) {
	r.storageOK()
	r.committed.Store(lastID)
	r.m.queued.Add(float64(n))
	r.m.outboxItems.Set(float64(r.items.Add(int64(n))))
	r.m.outboxBytes.Set(float64(r.pending.Add(size)))
	select {
	case r.newData <- struct{}{}:
	default:
	}
}

// removed runs on the sender when items up to lastID were delivered or set aside.
func (r *Reporter) removed(lastID uint64, n int, size int64) {
	r.delivered.Store(lastID)
	r.m.outboxItems.Set(float64(r.items.Add(-int64(n))))
	pending := r.pending.Add(-size)
	r.m.outboxBytes.Set(float64(pending))
	if limit := int64(r.cfg.Outbox.MaxSize); limit > 0 && pending <= limit && r.overBound.CompareAndSwap(true, false) {
		r.log.Info("outbox back under its size bound", zap.Int64("outbox_bytes", pending))
	}
	r.broadcast()
}
