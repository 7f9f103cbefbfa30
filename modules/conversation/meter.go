package conversation

import (
	stdsync "sync"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// The meter's side of a turn (CONTRACT section 7): the relay counts a turn's
// model use (relay.Access.Usage); the conversation keeps that count with the
// turn record at every relay batch (so a turn re-attached after a restart
// goes on from it), puts it in every answer of a turn that opened its relay
// (result `relay`), adds it to the conversation's running total in its
// session record (the conversation budget, across turns and restarts; gone
// with workspace.delete), and stops a turn whose budget the relay found spent
// with the reason "budget: …".

// conversationSpend is a conversation's running total: Base is every earlier
// turn's, Last the last finished turn's (by message id), so that answering
// the same turn again replaces its share instead of adding it twice.
type conversationSpend struct {
	Base        relay.Spend `json:"base"`
	Last        relay.Spend `json:"last"`
	LastMessage string      `json:"lastMessage,omitempty"`
}

// before is the conversation's total without the turn messageID's share.
func (s *conversationSpend) before(messageID string) relay.Spend {
	if s == nil {
		return relay.Spend{}
	}
	if s.LastMessage == messageID {
		return s.Base
	}
	return s.Base.Add(s.Last)
}

// turnMeter is the open relay access of a turn, whose count it reads.
type turnMeter struct {
	mu     stdsync.Mutex
	access *relay.Access
}

func (tm *turnMeter) attach(a *relay.Access) {
	tm.mu.Lock()
	tm.access = a
	tm.mu.Unlock()
}

// usage is the live count, or nil when the turn has no relay access (yet).
func (tm *turnMeter) usage() *relay.Usage {
	tm.mu.Lock()
	a := tm.access
	tm.mu.Unlock()
	if a == nil {
		return nil
	}
	u := a.Usage()
	return &u
}

// meterState is what the relay is opened with: the turn's count so far (a
// re-opened turn), its conversation's total, its budgets, and how to stop it.
func (m *Manager) meterState(t *turnState) relay.MeterState {
	turn := t.rec.Turn
	st := relay.MeterState{Stop: func(reason string) { t.stop(causeBudget, reason) }}
	if t.rec.Usage != nil {
		st.Used = *t.rec.Usage
	}
	if o := turn.Options; o.MaxTokens != nil {
		st.MaxTokens = *o.MaxTokens
	}
	if o := turn.Options; o.MaxUSD != nil {
		st.MaxUSD = *o.MaxUSD
	}
	rec, _, err := m.store.session(turn.WorkspaceID, turn.ConversationID)
	if err != nil {
		m.log.Warn("cannot read the conversation's spend", zap.String("message_id", turn.MessageID), zap.Error(err))
	}
	st.Conversation = rec.Meter.before(turn.MessageID)
	return st
}

// recordUsage copies the turn's live count into its record, before the
// record is written.
func (m *Manager) recordUsage(t *turnState) {
	if u := t.meter.usage(); u != nil {
		t.rec.Usage = u
	}
}

// meterFinish puts the turn's count in its answer and adds it to the
// conversation's total, before the answer is sent. A turn that never opened
// its relay has none.
func (m *Manager) meterFinish(t *turnState, out *outcome) {
	m.recordUsage(t)
	u := t.rec.Usage
	if u == nil {
		return
	}
	out.usage = u
	if out.err != nil && out.err.Data == nil {
		out.err.Data = map[string]any{"conversationId": t.rec.Turn.ConversationID, "status": rpc.StatusFailed, "relay": u}
	}
	turn := t.rec.Turn
	rec, _, err := m.store.session(turn.WorkspaceID, turn.ConversationID)
	if err == nil {
		spend := rec.Meter
		if spend == nil {
			spend = &conversationSpend{}
		}
		if spend.LastMessage != turn.MessageID {
			spend.Base, spend.LastMessage = spend.Base.Add(spend.Last), turn.MessageID
		}
		spend.Last = u.Spend()
		rec.Meter = spend
		err = m.store.putSession(turn.WorkspaceID, turn.ConversationID, rec)
	}
	if err != nil {
		m.log.Error("cannot record the conversation's spend", zap.String("message_id", turn.MessageID), zap.Error(err))
	}
}

// runningTokens sums the running turns' counts, for runner.ping. Caller holds m.mu.
func (m *Manager) runningTokens() *rpc.TokenCounts {
	total := &rpc.TokenCounts{}
	for _, t := range m.active {
		u := t.meter.usage()
		if u == nil {
			continue
		}
		total.Requests += u.Requests
		for _, mu := range u.Models {
			total.Input += mu.InputTokens
			total.Output += mu.OutputTokens
			total.CacheCreationInput += mu.CacheCreationInputTokens
			total.CacheReadInput += mu.CacheReadInputTokens
		}
		if u.CostUSD != nil {
			c := *u.CostUSD
			if total.CostUSD != nil {
				c += *total.CostUSD
			}
			total.CostUSD = &c
		}
	}
	return total
}

// workspaceForgetter is the relay's side of workspace.delete: the metric
// series of the workspace's conversations go.
type workspaceForgetter interface {
	ForgetWorkspace(workspaceID string)
}

// forgetMeter drops what the meter keeps of a deleted workspace (its
// conversations' totals go with their session records).
func (m *Manager) forgetMeter(workspaceID string) {
	if f, ok := m.gate.(workspaceForgetter); ok {
		f.ForgetWorkspace(workspaceID)
	}
}

// budgetReason is the stop reason of a budget stop, for the answer.
func budgetReason(reason string) string {
	if reason == "" {
		return "budget: spent"
	}
	return reason
}
