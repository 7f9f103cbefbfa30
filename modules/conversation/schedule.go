package conversation

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// Submit queues a turn and reports it queued. It returns nil once the turn
// (or its answer) is durable, so a restart cannot lose it: only then may the
// caller settle the message. A turn record the data dir refuses (full,
// failing) is written again until it is durable, so Submit waits, and with
// it the intake; when ctx ends first the error says the turn is not
// recorded (the intake hands the message over again). A stopping runner
// answers -32006. The queued state is sent before the turn can start, so
// that it keeps seq 1 ahead of everything else of the message.
func (m *Manager) Submit(ctx context.Context, turn Turn) error {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		m.answer(newTurnState(&turnRecord{Turn: turn}), rpc.Errorf(rpc.CodeShuttingDown, "runner shutting down: the turn was not started"))
		return nil
	}
	if _, dup := m.byMsg[turn.MessageID]; dup {
		m.mu.Unlock()
		m.log.Warn("turn already known, ignored", zap.String("message_id", turn.MessageID))
		return nil
	}
	// A message handed over again after a crash, whose turn already ended.
	if done, err := m.store.answered(turn.MessageID); err == nil && done {
		m.mu.Unlock()
		m.log.Warn("turn already answered, ignored", zap.String("message_id", turn.MessageID))
		return nil
	}
	m.order++
	turn.Order = m.order
	turn.Arrived = time.Now().UTC()
	t := newTurnState(&turnRecord{Turn: turn, State: rpc.StateQueued, Seq: 1, MaxSeq: 1, StateSeq: 1})
	m.byMsg[turn.MessageID] = t
	m.mu.Unlock()

	if err := m.durably(ctx, "record the turn", turn.MessageID, func() error { return m.store.putTurn(t.rec) }); err != nil {
		m.mu.Lock()
		delete(m.byMsg, turn.MessageID)
		m.mu.Unlock()
		if errors.Is(err, errGaveUp) {
			m.log.Warn("turn not recorded before the intake stopped; it is handed over again", zap.String("message_id", turn.MessageID), zap.Error(err))
			return err
		}
		m.log.Error("cannot record turn", zap.String("message_id", turn.MessageID), zap.Error(err))
		m.answer(t, rpc.Errorf(rpc.CodeSandboxFailed, "runner cannot record the turn: %v", err))
		return nil
	}
	crashpoint.Hit(crashpoint.TurnRecorded)
	m.log.Info("turn queued", zap.String("message_id", turn.MessageID),
		zap.String("workspace_id", turn.WorkspaceID), zap.String("conversation_id", turn.ConversationID))
	m.emitState(t, rpc.StateQueued, 1)

	m.mu.Lock()
	m.pending = append(m.pending, t)
	m.metrics.queued.Set(float64(len(m.pending)))
	m.mu.Unlock()
	m.pump()
	return nil
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

// Cancel stops the running turn and removes the queued turns of a
// conversation. It returns once both are durable: the running turn's stop is
// recorded (a restart applies it again) and each queued turn's answer is
// recorded, so what the caller answers holds across a crash.
func (m *Manager) Cancel(workspaceID, conversationID string) bool {
	m.mu.Lock()
	var running *turnState
	if t, ok := m.active[workspaceID]; ok && t.rec.Turn.ConversationID == conversationID {
		running = t
	}
	removed := m.removePending(func(t *turnState) bool {
		return t.rec.Turn.WorkspaceID == workspaceID && t.rec.Turn.ConversationID == conversationID
	})
	m.mu.Unlock()
	stopped := running != nil && m.stopDurably(running, causeCancelled, "stopped: cancelled")
	for _, t := range removed {
		m.answer(t, rpc.Errorf(rpc.CodeCancelled, "turn cancelled before it started"))
	}
	return stopped || len(removed) > 0
}

// stopDurably records a stop that will be promised to someone, then stops
// the turn; false when the turn's answer was already decided.
func (m *Manager) stopDurably(t *turnState, cause stopCause, reason string) bool {
	if err := m.store.putStop(t.rec.Turn.MessageID, stopRecord{Cause: cause, Reason: reason}); err != nil {
		m.log.Error("cannot record a turn's stop", zap.String("message_id", t.rec.Turn.MessageID), zap.Error(err))
	}
	crashpoint.Hit(crashpoint.CancelRecorded)
	return t.stop(cause, reason)
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
	running := m.active[workspaceID]
	m.mu.Unlock()
	if running != nil {
		m.stopDurably(running, causeCancelled, "stopped: workspace deleted")
	}
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
	m.forgetMeter(workspaceID)
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
