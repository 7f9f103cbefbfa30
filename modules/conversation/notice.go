package conversation

import (
	"encoding/json"
	stdsync "sync"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
	"go.uber.org/zap"
)

// notices carries the runner events of one turn (CONTRACT sections 6 and 7:
// git_push, egress_refused, budget_exhausted, ...) into its stream. They are
// raised from other goroutines (the relays' request handlers, the disk
// watcher) and from the turn's own end (the runner's push). While the agent's
// output is relayed they join its line queue, so each gets the next seq in the
// order it happened; before and after, they wait in pending and go out with
// the finished state, each with its own seq, before the answer (decide
// records them in the turn's answer).
type notices struct {
	mu      stdsync.Mutex
	queue   *lineQueue
	pending [][]byte
}

// raise adds a runner event to the turn's stream.
func (n *notices) raise(ev json.RawMessage) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.queue != nil {
		n.queue.inject(ev)
		return
	}
	n.pending = append(n.pending, ev)
}

// attach routes notices into q, pending ones first.
func (n *notices) attach(q *lineQueue) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ev := range n.pending {
		q.inject(ev)
	}
	n.pending, n.queue = nil, q
}

// detach ends routing into q; what q still holds waits in pending.
func (n *notices) detach(q *lineQueue) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.queue == q {
		n.queue = nil
	}
	n.pending = append(n.pending, q.leftovers()...)
}

// take returns and forgets the pending notices.
func (n *notices) take() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.pending
	n.pending = nil
	return out
}

// noticeRecord is a notice with the seq its turn's record gave it: kept
// until the record's next write (relay.go sendNotices), or in the decided
// answer (answer.go).
type noticeRecord struct {
	Seq   int64           `json:"seq"`
	Event json.RawMessage `json:"event"`
}

// resendNotices sends again the notices a turn's record holds: they may not
// have reached the outbox before a crash (repeats are true duplicates).
func (m *Manager) resendNotices(rec *turnRecord) {
	if len(rec.Notices) == 0 {
		return
	}
	if err := m.sink.Send(m.ctx, noticeItems(rec.Turn, rec.Notices)...); err != nil {
		m.log.Error("cannot deliver the notices of a turn after a restart", zap.String("message_id", rec.Turn.MessageID), zap.Error(err))
	}
}

// noticeItems are the events of recorded notices, with room for two more.
func noticeItems(turn Turn, ns []noticeRecord) []reporter.Item {
	items := make([]reporter.Item, 0, len(ns)+2)
	for _, n := range ns {
		items = append(items, reporter.Event(rpc.EventParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
			ConversationID: turn.ConversationID, Seq: n.Seq, Event: n.Event}))
	}
	return items
}

// notice is a runner event's conversation.event with the next seq (the relay
// loop owns the seq while it runs).
func (m *Manager) notice(t *turnState, ev []byte) reporter.Item {
	turn := t.rec.Turn
	t.rec.Seq++
	return reporter.Event(rpc.EventParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Seq: t.rec.Seq, Event: ev})
}
