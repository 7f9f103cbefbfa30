package conversation

import (
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
	turn := t.rec.Turn
	lines := run.Lines()
	items := make([]reporter.Item, 0, relayBatchLines)
	for first := range lines {
		items = items[:0]
		size := 0
		items = append(items, m.event(t, tracker, first))
		size += len(first.Data)
	drain:
		for len(items) < relayBatchLines && size < relayBatchBytes {
			select {
			case l, ok := <-lines:
				if !ok {
					break drain
				}
				items = append(items, m.event(t, tracker, l))
				size += len(l.Data)
			default:
				break drain
			}
		}
		t.rec.MaxSeq = max(t.rec.MaxSeq, t.rec.Seq)
		if err := m.store.putTurn(t.rec); err != nil {
			m.log.Warn("cannot record relay progress", zap.String("message_id", turn.MessageID), zap.Error(err))
		}
		if err := m.sink.Send(m.ctx, items...); err != nil {
			m.log.Error("cannot deliver events; stopping the turn", zap.String("message_id", turn.MessageID), zap.Error(err))
			t.stop(causeShutdown, "stopped: events cannot be delivered")
			continue
		}
		m.metrics.events.Add(float64(len(items)))
		t.rec.Lines, t.rec.LinesSeq = tracker.lines, t.rec.Seq
	}
	if err := m.store.putTurn(t.rec); err != nil {
		m.log.Warn("cannot record relay progress", zap.String("message_id", turn.MessageID), zap.Error(err))
	}
}

// event turns one stdout line into its conversation.event with the next seq.
func (m *Manager) event(t *turnState, tracker *streamTracker, l sandbox.Line) reporter.Item {
	turn := t.rec.Turn
	t.rec.Seq++
	return reporter.Event(rpc.EventParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Seq: t.rec.Seq, Event: tracker.observe(l.Data, l.Truncated)})
}
