package conversation

import (
	"context"
	"slices"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// Submit queues a turn and reports it queued. It returns once the turn is
// durable, so a restart cannot lose it. A stopping runner answers -32006.
// The queued state is sent before the turn can start, so that it keeps seq 1
// ahead of everything else of the message.
func (m *Manager) Submit(ctx context.Context, turn Turn) {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		m.answer(newTurnState(&turnRecord{Turn: turn}), rpc.Errorf(rpc.CodeShuttingDown, "runner shutting down: the turn was not started"))
		return
	}
	if _, dup := m.byMsg[turn.MessageID]; dup {
		m.mu.Unlock()
		m.log.Warn("turn already known, ignored", zap.String("message_id", turn.MessageID))
		return
	}
	m.order++
	turn.Order = m.order
	turn.Arrived = time.Now().UTC()
	t := newTurnState(&turnRecord{Turn: turn, State: rpc.StateQueued, Seq: 1})
	m.byMsg[turn.MessageID] = t
	m.mu.Unlock()

	if err := m.store.putTurn(t.rec); err != nil {
		m.log.Error("cannot record turn", zap.String("message_id", turn.MessageID), zap.Error(err))
		m.mu.Lock()
		delete(m.byMsg, turn.MessageID)
		m.mu.Unlock()
		m.answer(t, rpc.Errorf(rpc.CodeSandboxFailed, "runner cannot record the turn: %v", err))
		return
	}
	m.log.Info("turn queued", zap.String("message_id", turn.MessageID),
		zap.String("workspace_id", turn.WorkspaceID), zap.String("conversation_id", turn.ConversationID))
	m.emitState(t, rpc.StateQueued, 1)

	m.mu.Lock()
	m.pending = append(m.pending, t)
	m.metrics.queued.Set(float64(len(m.pending)))
	m.mu.Unlock()
	m.pump()
}

// pump starts queued turns, earliest first, while slots are free: a workspace
// runs one turn at a time, the runner at most --max-concurrent.
// While the free-space gate is closed nothing starts (disk.go).
func (m *Manager) pump() {
	m.mu.Lock()
	closed, held, reason := m.gateClosed()
	for i := 0; !closed && i < len(m.pending) && len(m.active) < m.cfg.MaxConcurrent && !m.stopping; {
		t := m.pending[i]
		ws := t.rec.Turn.WorkspaceID
		_, busy := m.active[ws]
		_, deleting := m.deleting[ws]
		if busy || deleting || t.holding {
			i++
			continue
		}
		m.pending = slices.Delete(m.pending, i, i+1)
		m.active[ws] = t
		m.wg.Add(1)
		go m.execute(t)
	}
	m.metrics.queued.Set(float64(len(m.pending)))
	m.metrics.active.Set(float64(len(m.active)))
	m.mu.Unlock()
	m.tellHeld(held, reason)
}

// Cancel stops the running turn and removes the queued turns of a conversation.
func (m *Manager) Cancel(workspaceID, conversationID string) bool {
	m.mu.Lock()
	found := false
	if t, ok := m.active[workspaceID]; ok && t.rec.Turn.ConversationID == conversationID {
		t.stop(causeCancelled, "stopped: cancelled")
		found = true
	}
	removed := m.removePending(func(t *turnState) bool {
		return t.rec.Turn.WorkspaceID == workspaceID && t.rec.Turn.ConversationID == conversationID
	})
	m.mu.Unlock()
	for _, t := range removed {
		m.answer(t, rpc.Errorf(rpc.CodeCancelled, "turn cancelled before it started"))
	}
	return found || len(removed) > 0
}

// Withdraw removes a queued turn whose message was deleted before it started.
func (m *Manager) Withdraw(messageID string) bool {
	m.mu.Lock()
	removed := m.removePending(func(t *turnState) bool { return t.rec.Turn.MessageID == messageID })
	m.mu.Unlock()
	for _, t := range removed {
		m.answer(t, rpc.Errorf(rpc.CodeCancelled, "turn withdrawn: its message was deleted before it started"))
	}
	return len(removed) > 0
}

// DeleteWorkspace stops the workspace's turns and removes its sandbox,
// checkout, agent state and sessions.
func (m *Manager) DeleteWorkspace(ctx context.Context, workspaceID string) error {
	m.mu.Lock()
	m.deleting[workspaceID]++ // deletions of one workspace may overlap
	removed := m.removePending(func(t *turnState) bool { return t.rec.Turn.WorkspaceID == workspaceID })
	var running *turnState
	if t, ok := m.active[workspaceID]; ok {
		running = t
		t.stop(causeCancelled, "stopped: workspace deleted")
	}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.deleting[workspaceID]--; m.deleting[workspaceID] <= 0 {
			delete(m.deleting, workspaceID)
		}
		m.mu.Unlock()
		m.pump()
	}()

	for _, t := range removed {
		m.answer(t, rpc.Errorf(rpc.CodeCancelled, "turn cancelled: workspace deleted"))
	}
	if running != nil {
		select {
		case <-running.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := m.sb.RemoveWorkspace(ctx, workspaceID); err != nil {
		return err
	}
	if err := m.releaseDisk(workspaceID); err != nil { // disk.go: its subvolume or quota project
		return err
	}
	if err := m.ws.Delete(ctx, workspaceID, m.sb); err != nil {
		return err
	}
	m.forgetDisk(workspaceID)
	return m.store.deleteSessions(workspaceID)
}

// removePending takes the queued turns that match out of the queue. Caller holds m.mu.
func (m *Manager) removePending(match func(*turnState) bool) []*turnState {
	var removed []*turnState
	m.pending = slices.DeleteFunc(m.pending, func(t *turnState) bool {
		if match(t) {
			removed = append(removed, t)
			delete(m.byMsg, t.rec.Turn.MessageID)
			return true
		}
		return false
	})
	m.metrics.queued.Set(float64(len(m.pending)))
	return removed
}
