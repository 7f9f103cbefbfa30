package reporter

import (
	"context"
	"fmt"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/retry"
	"go.uber.org/zap"
)

// batch is one POST body: outbox items first..last, in order, and maybe the
// latest heartbeat.
type batch struct {
	body        []byte
	items       int
	bytes       int64 // outbox bytes of the items
	first, last uint64
	times       []int64 // commit time of each item, for the latency histogram
	end         position
	hb          *Item
}

// sender is the one goroutine that drains the outbox, in order.
type sender struct {
	r     *Reporter
	pos   position // first item not yet delivered
	buf   []byte   // read buffer
	b     batch
	tries int // consecutive failed attempts
	out   outage
}

func newSender(r *Reporter, st outboxStats) *sender {
	return &sender{r: r, pos: st.start,
		buf: make([]byte, r.tune.BatchBytes+recordHeader+4<<10)}
}

func (s *sender) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.build(); err != nil {
			s.r.log.Error("read outbox", zap.Error(err))
			s.tries++
			retry.Sleep(ctx, s.r.tune.Backoff.Delay(s.tries, 0))
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
		retry.Sleep(ctx, s.r.tune.Linger)
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
	pos, full := s.pos, false
	add := func(rec record) {
		if b.items > 0 {
			b.body = append(b.body, ',')
		} else {
			b.first = rec.id
		}
		b.body = append(b.body, rec.payload...)
		b.times = append(b.times, rec.ts)
		b.items++
		b.bytes += rec.size
		b.last = rec.id
		pos.off += rec.size
		full = b.items >= t.BatchItems || len(b.body) >= t.BatchBytes
	}
	for !full {
		if pos.seg == nil {
			if pos.seg = s.r.ob.first(); pos.seg == nil {
				break
			}
			pos.off = 0
		}
		size := pos.seg.size.Load()
		if pos.off >= size {
			next := s.r.ob.after(pos.seg)
			if pos.off < pos.seg.size.Load() {
				continue // the segment grew before it was closed
			}
			if next == nil {
				break
			}
			pos = position{seg: next}
			continue
		}
		chunk := s.buf[:min(size-pos.off, int64(len(s.buf)))]
		if _, err := pos.seg.f.ReadAt(chunk, pos.off); err != nil {
			return fmt.Errorf("read outbox segment %s at %d: %w", pos.seg.path, pos.off, err)
		}
		for !full && len(chunk) > 0 {
			rec, need, err := parseRecord(chunk)
			if err != nil {
				return fmt.Errorf("outbox segment %s at %d: %w", pos.seg.path, pos.off, err)
			}
			if need > 0 {
				if int64(need) > size-pos.off {
					return fmt.Errorf("outbox segment %s at %d: %w: record runs past the end", pos.seg.path, pos.off, errDamaged)
				}
				if need <= len(s.buf) {
					break // read on from this record
				}
				if b.items > 0 {
					full = true // an outsized item goes alone, next time
					break
				}
				big := make([]byte, need)
				if _, err := pos.seg.f.ReadAt(big, pos.off); err != nil {
					return fmt.Errorf("read outbox segment %s at %d: %w", pos.seg.path, pos.off, err)
				}
				if rec, _, err = parseRecord(big); err != nil {
					return fmt.Errorf("outbox segment %s at %d: %w", pos.seg.path, pos.off, err)
				}
				add(rec)
				full = true
				break
			}
			if b.items > 0 && len(b.body)+1+len(rec.payload) > t.BatchBytes {
				full = true
				break
			}
			add(rec)
			chunk = chunk[rec.size:]
		}
	}
	b.end = pos
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
	s.out.observe(r, res)
	if ce := r.log.Check(zap.DebugLevel, "batch posted"); ce != nil {
		ce.Write(zap.Int("items", b.items), zap.Bool("heartbeat", b.hb != nil), zap.Int("bytes", len(b.body)),
			zap.Uint64("first_key", b.first), zap.Uint64("last_key", b.last),
			zap.String("outcome", res.outcome), zap.Int("status", res.status),
			zap.ByteString("body", truncate(b.body, maxLoggedBatch)))
	}
	switch res.outcome {
	case outcomeDelivered:
		if s.tries > 0 {
			r.log.Info("orchestrator accepts batches again", zap.Int("failed_attempts", s.tries))
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
		d := r.tune.Backoff.Delay(s.tries, res.retryAfter)
		// Once per streak (and every tenth attempt of a long one), so an outage
		// is one warning and its recovery one line, not a line per retry.
		level := zap.DebugLevel
		if s.tries == 1 || s.tries%10 == 0 {
			level = zap.WarnLevel
		}
		if ce := r.log.Check(level, "orchestrator did not take the batch; retrying"); ce != nil {
			ce.Write(zap.Int("status", res.status), zap.Error(res.err), zap.ByteString("response", res.body),
				zap.Int("items", b.items), zap.Int("attempt", s.tries), zap.Duration("retry_in", d))
		}
		retry.Sleep(ctx, d)
	case outcomeUnauthorized:
		s.tries++
		r.m.retried.Add(float64(b.items))
		r.ready.NotReady(unauthorizedCause(res.status, r.tune.AuthRetry))
		r.log.Error("orchestrator refused the runner's credentials; outbox kept, retrying slowly",
			zap.Int("status", res.status), zap.ByteString("response", res.body),
			zap.String("runner_id", r.cfg.RunnerID), zap.Duration("retry_in", r.tune.AuthRetry))
		retry.Sleep(ctx, r.tune.AuthRetry)
	case outcomeRejected:
		path, err := writeDeadLetter(r.cfg.DataDir, b, time.Now())
		if err != nil {
			s.tries++
			d := r.tune.Backoff.Delay(s.tries, 0)
			r.log.Error("orchestrator rejected a batch and it could not be set aside; retrying",
				zap.Int("status", res.status), zap.ByteString("response", res.body), zap.Error(err), zap.Duration("retry_in", d))
			retry.Sleep(ctx, d)
			return
		}
		s.tries = 0
		r.m.deadLettered.Add(float64(b.items))
		r.log.Error("orchestrator rejected a batch; set aside as a dead letter, delivery goes on",
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
		s.pos = b.end
		crashpoint.Hit(crashpoint.BatchDelivered)
		s.r.ob.release(s.pos, b.last+1)
		s.r.removed(b.last, b.items, b.bytes)
	}
}
