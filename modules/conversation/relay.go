package conversation

import (
	"slices"
	stdsync "sync"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

// Batch bounds: a burst of lines becomes one durable send.
const (
	relayBatchLines = 1024
	relayBatchBytes = 4 << 20
)

// relay sends every stdout line as a conversation.event, in order, seq after
// seq. A send waits while the outbox is full, so a slow orchestrator slows the
// reading of the agent's output; nothing is dropped.
//
// Before each send the turn record is written with the batch's last seq
// (rec.MaxSeq, the high-water mark) and the relay position delivered so far
// (rec.Lines lines, the last of them with seq rec.LinesSeq). So after a crash
// a re-attached turn replays from a known position with the same seqs (a
// repeat is a true duplicate), and a turn whose sandbox is gone is answered
// with a seq no item of it ever had.
func (m *Manager) relay(t *turnState, run *sandbox.Run, tracker *streamTracker) {
	ahead := readAhead(run.Lines(), relayBatchBytes)
	t.notices.attach(ahead)
	defer t.notices.detach(ahead)
	items := make([]reporter.Item, 0, relayBatchLines)
	for {
		batch, ok := ahead.take(relayBatchLines, relayBatchBytes)
		if !ok {
			break
		}
		// Lines and notices go in separate sends: a replay after a crash
		// re-creates the lines' seqs from the record, never the notices'.
		for len(batch) > 0 {
			k := 1
			for k < len(batch) && batch[k].notice == batch[0].notice {
				k++
			}
			if batch[0].notice {
				m.sendNotices(t, batch[:k])
			} else {
				items = m.sendLines(t, tracker, batch[:k], items[:0])
			}
			batch = batch[k:]
		}
	}
	m.recordUsage(t)
	m.putProgress(t)
}

// sendLines relays a run of the agent's lines (see relay for the order of
// the record and the send).
func (m *Manager) sendLines(t *turnState, tracker *streamTracker, lines []queued, items []reporter.Item) []reporter.Item {
	for _, l := range lines {
		if tracker.delivered() {
			tracker.observe(l.Data, l.Truncated)
			continue
		}
		items = append(items, m.event(t, tracker, l.Line))
	}
	if len(items) == 0 {
		return items
	}
	t.rec.MaxSeq = max(t.rec.MaxSeq, t.rec.Seq)
	m.recordUsage(t)
	m.putProgress(t)
	crashpoint.Hit(crashpoint.LinesReserved)
	if !m.sendRelayed(t, items) {
		return items
	}
	t.rec.Lines, t.rec.LinesSeq = tracker.lines, t.rec.Seq
	return items
}

// sendNotices relays a run of runner events. Their seqs follow the lines
// delivered so far; the record takes them as delivered (LinesSeq) and keeps
// the events themselves until the next write, before anything is sent, so a
// restart sends them again (recover: resendNotices) instead of giving their
// seqs to replayed lines.
func (m *Manager) sendNotices(t *turnState, notices []queued) {
	items := make([]reporter.Item, 0, len(notices))
	t.rec.Notices = t.rec.Notices[:0]
	for _, n := range notices {
		it := m.notice(t, n.Data)
		items = append(items, it)
		t.rec.Notices = append(t.rec.Notices, noticeRecord{Seq: t.rec.Seq, Event: n.Data})
	}
	t.rec.MaxSeq = max(t.rec.MaxSeq, t.rec.Seq)
	t.rec.LinesSeq = t.rec.Seq
	m.putProgress(t)
	m.sendRelayed(t, items)
	t.rec.Notices = nil // written with the next record
}

// sendRelayed sends relayed items. A send the data dir refused is retried,
// the same items with the same seqs, until it is durable (durably); when
// they cannot be delivered (the reporter closed, the runner stopping) the
// turn is stopped (false).
func (m *Manager) sendRelayed(t *turnState, items []reporter.Item) bool {
	if err := m.durably(m.ctx, "send events", t.rec.Turn.MessageID, func() error { return m.sink.Send(m.ctx, items...) }); err != nil {
		m.log.Error("cannot deliver events; stopping the turn", zap.String("message_id", t.rec.Turn.MessageID), zap.Error(err))
		t.stop(causeShutdown, "stopped: events cannot be delivered")
		return false
	}
	m.metrics.events.Add(float64(len(items)))
	return true
}

func (m *Manager) putProgress(t *turnState) {
	if err := m.durably(m.ctx, "record relay progress", t.rec.Turn.MessageID, func() error { return m.store.putTurn(t.rec) }); err != nil {
		m.log.Warn("cannot record relay progress", zap.String("message_id", t.rec.Turn.MessageID), zap.Error(err))
	}
}

// lineQueue reads a run's lines ahead of the relay, so that the lines the
// agent prints while one batch is being made durable become the next batch
// (not one line each: every batch costs a turn-record write and an outbox
// commit). It holds at most max bytes (a longer line goes alone); past that
// the reader waits, and with it the sandbox's output: nothing is dropped.
// Runner events raised meanwhile (notices) join the queue in arrival order,
// outside the byte bound.
type lineQueue struct {
	mu     stdsync.Mutex
	lines  []queued
	bytes  int
	max    int
	closed bool
	ready  chan struct{} // lines arrived, or the source ended
	room   chan struct{} // lines were taken
}

func readAhead(src <-chan sandbox.Line, max int) *lineQueue {
	q := &lineQueue{max: max, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
	go q.fill(src)
	return q
}

// fill moves lines from src into the queue until src is closed.
func (q *lineQueue) fill(src <-chan sandbox.Line) {
	for l := range src {
		q.mu.Lock()
		for q.bytes > 0 && q.bytes+len(l.Data) > q.max {
			q.mu.Unlock()
			<-q.room
			q.mu.Lock()
		}
		q.lines = append(q.lines, queued{Line: l})
		q.bytes += len(l.Data)
		q.mu.Unlock()
		notify(q.ready)
	}
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	notify(q.ready)
}

// take waits for lines and returns the first ones, at most n and size bytes
// (at least one line); false once the source ended and every line was taken.
func (q *lineQueue) take(n, size int) ([]queued, bool) {
	for {
		q.mu.Lock()
		if len(q.lines) > 0 {
			k, b := 0, 0
			for k < len(q.lines) && k < n && (k == 0 || b+len(q.lines[k].Data) <= size) {
				if !q.lines[k].notice {
					b += len(q.lines[k].Data)
				}
				k++
			}
			out := slices.Clone(q.lines[:k])
			clear(q.lines[:k])
			if q.lines = q.lines[k:]; len(q.lines) == 0 {
				q.lines = nil
			}
			q.bytes -= b
			q.mu.Unlock()
			notify(q.room)
			return out, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		<-q.ready
	}
}

// queued is a line of the agent, or a runner event (notice) to relay.
type queued struct {
	sandbox.Line
	notice bool
}

// inject queues a runner event behind the lines read so far.
func (q *lineQueue) inject(ev []byte) {
	q.mu.Lock()
	q.lines = append(q.lines, queued{Line: sandbox.Line{Data: ev}, notice: true})
	q.mu.Unlock()
	notify(q.ready)
}

// leftovers removes and returns the notices still queued (injected after the
// relay took its last batch).
func (q *lineQueue) leftovers() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out [][]byte
	for _, l := range q.lines {
		if l.notice {
			out = append(out, l.Data)
		}
	}
	q.lines = nil
	return out
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// event turns one stdout line into its conversation.event with the next seq.
func (m *Manager) event(t *turnState, tracker *streamTracker, l sandbox.Line) reporter.Item {
	turn := t.rec.Turn
	t.rec.Seq++
	return reporter.Event(rpc.EventParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Seq: t.rec.Seq, Event: tracker.observe(l.Data, l.Truncated)})
}
