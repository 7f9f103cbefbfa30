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
// caller settle the message. Enqueue tells the same without waiting.
func (m *Manager) Submit(ctx context.Context, turn Turn) error {
	done := make(chan error, 1)
	m.Enqueue(ctx, turn, func(err error) { done <- err })
	return <-done
}

// Enqueue queues a turn in arrival order at once and records it in the
// background: the turns of many messages are recorded together (the
// store's writes are group-committed) while the intake goes on. done is
// called once: nil when the turn (or its answer) is durable, so a restart
// cannot lose it (only then may the caller settle the message); an error
// when it is not recorded (the data dir refused it until ctx ended: the
// intake hands the message over again). A turn record the data dir refuses
// (full, failing) is written again until it is durable. A stopping runner
// answers -32006. The turn does not start before it is recorded and its
// queued state sent (it keeps seq 1 ahead of everything else of the
// message), nor before the earlier turns of its workspace.
func (m *Manager) Enqueue(ctx context.Context, turn Turn, done func(error)) {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		m.answer(newTurnState(&turnRecord{Turn: turn}), rpc.Errorf(rpc.CodeShuttingDown, "runner shutting down: the turn was not started"))
		done(nil)
		return
	}
	if _, dup := m.byMsg[turn.MessageID]; dup {
		m.mu.Unlock()
		m.log.Warn("turn already known, ignored", zap.String("message_id", turn.MessageID))
		done(nil)
		return
	}
	// A message handed over again after a crash, whose turn already ended.
	if answered, err := m.store.answered(turn.MessageID); err == nil && answered {
		m.mu.Unlock()
		m.log.Warn("turn already answered, ignored", zap.String("message_id", turn.MessageID))
		done(nil)
		return
	}
	m.order++
	turn.Order = m.order
	turn.Arrived = time.Now().UTC()
	t := newTurnState(&turnRecord{Turn: turn, State: rpc.StateQueued, Seq: 1, MaxSeq: 1, StateSeq: 1})
	t.recorded = make(chan struct{})
	m.byMsg[turn.MessageID] = t
	m.pending = append(m.pending, t) // in arrival order; pump leaves it until recorded
	m.metrics.queued.Set(float64(len(m.pending)))
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		done(m.record(ctx, t))
	}()
}

// record makes a queued turn durable and sends its queued state, then lets
// pump start it. A turn that cannot be recorded leaves the queue: it is
// answered, or (errGaveUp) handed over again by the intake.
func (m *Manager) record(ctx context.Context, t *turnState) error {
	turn := t.rec.Turn
	err := m.durably(ctx, "record the turn", turn.MessageID, func() error { return m.store.putTurn(t.rec) })
	if err != nil {
		m.mu.Lock()
		m.removePending(func(q *turnState) bool { return q == t })
		m.mu.Unlock()
		close(t.recorded)
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
	close(t.recorded)
	m.pump()
	return nil
}

// awaitRecords waits until the turns queued so far are recorded (or gave
// up): a cancel, a withdrawal or a deletion then finds each where it is,
// as it would have had the intake waited for every record.
func (m *Manager) awaitRecords() {
	m.mu.Lock()
	var waits []chan struct{}
	for _, t := range m.pending {
		if t.recorded != nil {
			waits = append(waits, t.recorded)
		}
	}
	m.mu.Unlock()
	for _, w := range waits {
		<-w
	}
}

// pump starts queued turns, earliest first, while slots are free: a workspace
// runs one turn at a time, the runner at most --max-concurrent.
// While the free-space gate is closed nothing starts (disk.go).
func (m *Manager) pump() {
	m.mu.Lock()
	closed, held, reason := m.gateClosed()
	waiting := map[string]bool{} // workspaces with an earlier turn that cannot start yet
	for i := 0; !closed && i < len(m.pending) && len(m.active) < m.cfg.MaxConcurrent && !m.stopping; {
		t := m.pending[i]
		ws := t.rec.Turn.WorkspaceID
		_, busy := m.active[ws]
		_, deleting := m.deleting[ws]
		if busy || deleting || t.holding || !t.isRecorded() || waiting[ws] {
			waiting[ws] = true
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
	m.awaitRecords()
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
	m.awaitRecords()
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
	m.awaitRecords()
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
