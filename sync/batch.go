package sync

import (
	"context"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// journalError is a failure to commit a batch: the stream does not move and
// the same request is retried.
type journalError struct{ err error }

func (e *journalError) Error() string { return e.err.Error() }
func (e *journalError) Unwrap() error { return e.err }

// accept handles one response: every id it carries is journaled and the new
// position saved, in one transaction, before anything is dispatched.
func (i *Intake) accept(ctx context.Context, st *stream, res *response) error {
	items := make([]item, len(res.changes))
	recOf := make([]int, len(res.changes))
	var recs []record
	var lookup []string
	for k, raw := range res.changes {
		items[k] = decode(raw, i.cfg.RunnerID)
	}
	withdrawnHere := withdrawnInBatch(items)
	for k, it := range items {
		recOf[k] = -1
		switch it.kind {
		case itemDispatch:
			recOf[k] = len(recs)
			r := record{id: it.id, verdict: verdictAccepted}
			if !withdrawnHere[k] {
				r.pending = &pendingEntry{Message: &items[k].msg}
			}
			recs = append(recs, r)
		case itemReject:
			recOf[k] = len(recs)
			r := record{id: it.id, verdict: verdictRejected}
			if i.responder != nil {
				raw, err := encodeAnswer(it.id, it.answer)
				if err != nil {
					return &journalError{err: err}
				}
				r.pending = &pendingEntry{Answer: raw}
			}
			recs = append(recs, r)
		case itemDrop:
			recOf[k] = len(recs)
			recs = append(recs, record{id: it.id, verdict: verdictRejected})
		case itemWithdraw:
			lookup = append(lookup, it.id)
		}
	}
	var fresh []bool
	var known map[string]verdict
	if len(recs) > 0 {
		if err := i.accepting(); err != nil {
			return err
		}
	}
	if len(recs) > 0 || len(lookup) > 0 || res.next != st.pos {
		var err error
		fresh, known, err = i.journal.commit(recs, lookup, res.next, i.shapeKey, time.Now())
		if err != nil {
			return &journalError{err: err}
		}
		crashpoint.Hit(crashpoint.IntakeCommitted)
	}
	st.advance(res)
	for _, it := range items {
		switch it.op {
		case opInsert, opUpdate, opDelete:
			i.m.received.WithLabelValues(it.op).Inc()
		default:
			i.m.received.WithLabelValues("other").Inc()
		}
	}
	isFresh := func(k int) bool { return recOf[k] >= 0 && fresh[recOf[k]] }

	// An insert and its delete in the same batch cancel out: the message is
	// journaled but never dispatched.
	cancelled, consumed := map[int]bool{}, map[int]bool{}
	pending := map[string]int{}
	for k, it := range items {
		switch {
		case it.kind == itemDispatch && isFresh(k):
			pending[it.id] = k
		case it.kind == itemWithdraw:
			if j, ok := pending[it.id]; ok {
				cancelled[j], consumed[k] = true, true
				delete(pending, it.id)
			}
		}
	}
	for k, it := range items {
		switch it.kind {
		case itemSkip:
			i.skipped(it)
		case itemWithdraw:
			if consumed[k] {
				continue
			}
			if known[it.id] == verdictAccepted {
				i.m.withdrawn.Inc()
				i.handler.Withdraw(ctx, it.id)
			} else {
				i.log.Debug("delete of a message not dispatched", zap.String("message_id", it.id))
			}
		case itemDispatch, itemReject, itemDrop:
			if !isFresh(k) {
				i.m.duplicates.Inc()
				i.log.Debug("message already journaled, not acted on again", zap.String("message_id", it.id))
				continue
			}
			i.deliver(ctx, it, cancelled[k])
		}
	}
	return nil
}

// withdrawnInBatch marks the inserts whose delete follows in the same batch:
// they are journaled but never dispatched, so nothing of them stays pending.
func withdrawnInBatch(items []item) map[int]bool {
	out := map[int]bool{}
	inserted := map[string]int{}
	for k, it := range items {
		switch it.kind {
		case itemDispatch:
			inserted[it.id] = k
		case itemWithdraw:
			if j, ok := inserted[it.id]; ok {
				out[j] = true
				delete(inserted, it.id)
			}
		}
	}
	return out
}

// deliver acts on one new row.
func (i *Intake) deliver(ctx context.Context, it item, cancelled bool) {
	switch {
	case it.kind == itemDispatch && cancelled:
		i.log.Info("message deleted before dispatch", zap.String("message_id", it.id))
	case it.kind == itemDispatch:
		i.m.dispatched.Inc()
		i.hooks(i.journal, &it.msg)
		i.handler.Dispatch(ctx, it.msg)
	case it.kind == itemDrop:
		i.m.rejected.WithLabelValues(it.reason).Inc()
		i.log.Warn("row without a payload dropped", zap.String("message_id", it.id))
	case it.kind == itemReject:
		i.m.rejected.WithLabelValues(it.reason).Inc()
		fields := []zap.Field{zap.String("message_id", it.id), zap.String("reason", it.reason),
			zap.Int("code", it.answer.Error.Code), zap.ByteString("request_id", it.answer.ID)}
		if i.responder == nil {
			i.log.Warn("invalid request row; no responder to answer it", fields...)
			return
		}
		i.log.Warn("invalid request row answered with an error", fields...)
		// The answer sent is the one journaled, so a repeat after a crash is identical.
		raw, err := encodeAnswer(it.id, it.answer)
		if err == nil {
			var resp rpc.Response
			if resp, _, err = decodeAnswer(raw); err == nil {
				i.respond(ctx, i.journal, it.id, resp)
				return
			}
		}
		i.log.Error("answer to an invalid request row failed", append(fields, zap.Error(err))...)
	}
}

// skipped logs a row the intake does not act on.
func (i *Intake) skipped(it item) {
	if !it.warning {
		i.log.Debug("row ignored", zap.String("operation", it.op), zap.String("message_id", it.id), zap.String("reason", it.reason))
		return
	}
	i.m.rejected.WithLabelValues(it.reason).Inc()
	if it.reason == "other_runner" {
		i.log.Warn("row for another runner ignored", zap.String("message_id", it.id), zap.String("row_runner_id", it.runner))
		return
	}
	i.log.Warn("unusable row ignored", zap.String("reason", it.reason), zap.String("operation", it.op),
		zap.String("key", it.key), zap.String("message_id", it.id))
}
