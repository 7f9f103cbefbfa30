package conversation

import (
	"encoding/json"
	stdsync "sync"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
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

// notice is a runner event's conversation.event with the next seq (the relay
// loop owns the seq while it runs).
func (m *Manager) notice(t *turnState, ev []byte) reporter.Item {
	turn := t.rec.Turn
	t.rec.Seq++
	return reporter.Event(rpc.EventParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Seq: t.rec.Seq, Event: ev})
}
