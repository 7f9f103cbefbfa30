package reporter

import (
	"context"
	"encoding/binary"
	"time"

	"go.uber.org/zap"
)

// batch is one POST body: outbox items from first to last, in order, and
// maybe the latest heartbeat.
type batch struct {
	body        []byte
	items       int
	bytes       int64 // outbox bytes of the items (headers included)
	first, last uint64
	times       []int64 // commit time of each item, for the latency histogram
	hb          *Item
}

// sender is the one goroutine that drains the outbox, in order.
type sender struct {
	r     *Reporter
	log   *zap.Logger
	next  uint64 // first key not yet delivered
	b     batch
	tries int // consecutive failed attempts
}

func newSender(r *Reporter) *sender { return &sender{r: r, log: r.log} }

func (s *sender) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.build(); err != nil {
			s.log.Error("read outbox", zap.Error(err))
			s.tries++
			sleep(ctx, backoff(s.tries, s.r.tune.RetryBase, s.r.tune.RetryCap, 0))
			continue
		}
		if s.b.items == 0 && s.b.hb == nil {
			s.waitForWork(ctx)
			continue
		}
		s.deliver(ctx)
	}
}

// waitForWork waits for new items (then lingers, so that a burst becomes one
// POST) or a heartbeat.
func (s *sender) waitForWork(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-s.r.hbWake:
	case <-s.r.newData:
		sleep(ctx, s.r.tune.Linger)
	}
}

// build reads the next batch from the outbox, bounded by items and bytes;
// the first item always goes, however big.
func (s *sender) build() error {
	t := s.r.tune
	b := &s.b
	if cap(b.body) > 2*t.BatchBytes+64<<10 {
		b.body = nil // do not keep the buffer of an outsized item
	}
	b.body = append(b.body[:0], '[')
	b.items, b.bytes, b.first, b.last, b.times, b.hb = 0, 0, 0, 0, b.times[:0], nil
	err := s.r.ob.read(s.next, func(key uint64, v []byte) bool {
		js := v[headerLen:]
		if b.items > 0 && (b.items >= t.BatchItems || len(b.body)+1+len(js) > t.BatchBytes) {
			return false
		}
		if b.items > 0 {
			b.body = append(b.body, ',')
		} else {
			b.first = key
		}
		b.body = append(b.body, js...)
		b.times = append(b.times, int64(binary.BigEndian.Uint64(v[1:headerLen])))
		b.items++
		b.bytes += int64(len(v))
		b.last = key
		return true
	})
	if err != nil {
		return err
	}
	if hb := s.r.hb.Load(); hb != nil {
		if b.items > 0 {
			b.body = append(b.body, ',')
		}
		b.body = append(b.body, hb.JSON()...)
		b.hb = hb
	}
	b.body = append(b.body, ']')
	return nil
}

// deliver makes one attempt at the current batch and acts on the outcome.
func (s *sender) deliver(ctx context.Context) {
	r, b := s.r, &s.b
	res := post(ctx, r, b.body)
	if ctx.Err() != nil {
		return // stopping: the batch stays in the outbox
	}
	r.m.requests.WithLabelValues(res.outcome).Inc()
	if ce := s.log.Check(zap.DebugLevel, "batch posted"); ce != nil {
		ce.Write(zap.Int("items", b.items), zap.Bool("heartbeat", b.hb != nil), zap.Int("bytes", len(b.body)),
			zap.Uint64("first_key", b.first), zap.Uint64("last_key", b.last),
			zap.String("outcome", res.outcome), zap.Int("status", res.status),
			zap.ByteString("body", truncate(b.body, maxLoggedBatch)))
	}
	switch res.outcome {
	case outcomeDelivered:
		if s.tries > 0 {
			s.log.Info("orchestrator accepts batches again", zap.Int("failed_attempts", s.tries))
		}
		s.tries = 0
		r.ready.Ready()
		now := time.Now().UnixNano()
		for _, t := range b.times {
			r.m.latency.Observe(float64(now-t) / 1e9)
		}
		r.m.delivered.Add(float64(b.items))
		s.done()
	case outcomeRetry:
		s.tries++
		r.m.retried.Add(float64(b.items))
		d := backoff(s.tries, r.tune.RetryBase, r.tune.RetryCap, res.retryAfter)
		s.log.Warn("orchestrator did not take the batch; retrying",
			zap.Int("status", res.status), zap.Error(res.err), zap.ByteString("response", res.body),
			zap.Int("items", b.items), zap.Int("attempt", s.tries), zap.Duration("retry_in", d))
		sleep(ctx, d)
	case outcomeUnauthorized:
		s.tries++
		r.m.retried.Add(float64(b.items))
		r.ready.NotReady(unauthorizedCause(res.status, r.tune.AuthRetry))
		s.log.Error("orchestrator refused the runner's credentials; outbox kept, retrying slowly",
			zap.Int("status", res.status), zap.ByteString("response", res.body),
			zap.String("runner_id", r.cfg.RunnerID), zap.Duration("retry_in", r.tune.AuthRetry))
		sleep(ctx, r.tune.AuthRetry)
	case outcomeRejected:
		path, err := writeDeadLetter(r.cfg.DataDir, b, time.Now())
		if err != nil {
			s.tries++
			d := backoff(s.tries, r.tune.RetryBase, r.tune.RetryCap, 0)
			s.log.Error("orchestrator rejected a batch and it could not be set aside; retrying",
				zap.Int("status", res.status), zap.ByteString("response", res.body), zap.Error(err), zap.Duration("retry_in", d))
			sleep(ctx, d)
			return
		}
		s.tries = 0
		r.m.deadLettered.Add(float64(b.items))
		s.log.Error("orchestrator rejected a batch; set aside as a dead letter, delivery goes on",
			zap.Int("status", res.status), zap.ByteString("response", res.body),
			zap.Int("items", b.items), zap.Uint64("first_key", b.first), zap.Uint64("last_key", b.last),
			zap.String("file", path))
		s.done()
	}
}

// done moves past the current batch: its items leave the outbox, its
// heartbeat is forgotten unless a newer one is waiting.
func (s *sender) done() {
	b := &s.b
	if b.hb != nil {
		s.r.hb.CompareAndSwap(b.hb, nil)
	}
	if b.items > 0 {
		s.next = b.last + 1
		s.r.removed(b.last, b.items, b.bytes)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
