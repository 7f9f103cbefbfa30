package conversation

import (
	"context"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// recover takes up the turns an earlier run of the runner left unfinished,
// each exactly once (doc.go lists the persistence points this relies on).
// First the state each turn last reserved a seq for is sent again, so no seq
// is left a gap, and so are the runner events the record holds (relay.go
// sendNotices). A turn whose answer was recorded has it sent again (the
// same items) and is forgotten: it never runs again. A running turn whose
// sandbox is still there, running or exited, is re-attached: the rest of its
// output is relayed with continuing seq, from the last line known to be
// delivered, so a repeated line repeats its (messageId, seq). A turn that was
// still preparing but whose sandbox had already started is adopted the same
// way (its prompt came from a file, whole). A stop that was promised (a
// cancel answered) applies again. Other queued and preparing turns are queued
// again (preparation starts over), or answered -32005 when a cancel stopped
// them; so are the turns put back because their agent never started
// (runAgain). A running turn whose sandbox is gone is answered -32003: never
// silence. Sandboxes no unfinished turn owns are removed, so that they cannot
// block their workspace.
func (m *Manager) recover(ctx context.Context) error {
	recs, err := m.store.turns()
	if err != nil {
		return err
	}
	stops, err := m.store.stops()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.Answer == nil && rec.StateSeq > 0 {
			m.emitState(newTurnState(rec), rec.State, rec.StateSeq)
		}
		if rec.Answer == nil {
			m.resendNotices(rec)
		}
	}
	alive := map[string]bool{}            // container id
	byMessage := map[string]leftoverRef{} // message id
	for _, l := range m.sb.Leftovers() {
		alive[l.ContainerID] = true
		byMessage[l.MessageID] = leftoverRef{containerID: l.ContainerID, workspaceID: l.WorkspaceID}
	}
	owned := map[string]bool{}
	known := map[string]bool{}
	m.mu.Lock()
	for _, rec := range recs {
		t := newTurnState(rec)
		m.order = max(m.order, rec.Turn.Order)
		m.byMsg[rec.Turn.MessageID] = t
		known[rec.Turn.MessageID] = true
		stop, stopped := stops[rec.Turn.MessageID]
		if stopped {
			t.cause, t.reason = stop.Cause, stop.Reason
		}
		ws := rec.Turn.WorkspaceID
		log := m.log.With(zap.String("message_id", rec.Turn.MessageID), zap.String("workspace_id", ws))
		left, started := byMessage[rec.Turn.MessageID]
		// A turn runAgain put back (its agent never started) says running
		// with no container: it is taken up as the preparing ones are.
		notRunning := rec.State != rpc.StateRunning || rec.ContainerID == ""
		switch {
		case rec.Answer != nil:
			log.Info("sending a recorded answer again after restart")
			owned[rec.ContainerID] = true
			m.startRecovered(t, rec.ContainerID != "" && m.active[ws] == nil, func() { m.deliverAnswer(t.rec) })
		case rec.State == rpc.StateRunning && alive[rec.ContainerID] && m.active[ws] == nil:
			log.Info("re-attaching to running turn", zap.String("container_id", rec.ContainerID), zap.Int64("lines_delivered", rec.Lines))
			owned[rec.ContainerID] = true
			m.startRecovered(t, true, func() { m.reattach(t, false) })
		case notRunning && started && left.workspaceID == ws && m.active[ws] == nil:
			log.Info("adopting the sandbox a preparing turn had started", zap.String("container_id", left.containerID))
			owned[left.containerID] = true
			rec.ContainerID, rec.Lines = left.containerID, 0
			m.startRecovered(t, true, func() { m.reattach(t, true) })
		case notRunning && stopped:
			log.Info("turn stopped before its restart, answered", zap.String("was", rec.State))
			m.startRecovered(t, false, func() { m.answer(t, rpc.Errorf(rpc.CodeCancelled, "turn cancelled before the agent started")) })
		case notRunning:
			log.Info("turn queued again after restart", zap.String("was", rec.State))
			m.pending = append(m.pending, t)
		default:
			log.Warn("turn's sandbox is gone after restart", zap.String("container_id", rec.ContainerID))
			rerr := rpc.Errorf(rpc.CodeAgentFailed, "agent failed: the runner restarted while the turn ran and its sandbox is gone")
			if stopped && stop.Cause == causeCancelled {
				rerr = rpc.Errorf(rpc.CodeCancelled, "turn cancelled: its sandbox is gone")
			}
			m.startRecovered(t, false, func() { m.answer(t, rerr) })
		}
	}
	m.mu.Unlock()

	for msgID := range stops {
		if !known[msgID] {
			if err := m.store.forgetStop(msgID); err != nil {
				m.log.Warn("cannot forget the stop of a finished turn", zap.String("message_id", msgID), zap.Error(err))
			}
		}
	}
	m.removeStalePrompts(known)
	for msgID, l := range byMessage {
		if owned[l.containerID] {
			continue
		}
		m.log.Warn("removing a sandbox no unfinished turn owns", zap.String("workspace_id", l.workspaceID),
			zap.String("message_id", msgID), zap.String("container_id", l.containerID))
		if err := m.sb.RemoveWorkspace(ctx, l.workspaceID); err != nil {
			m.log.Error("cannot remove unowned sandbox", zap.String("workspace_id", l.workspaceID), zap.Error(err))
		}
	}
	return nil
}

// startRecovered runs a recovered turn's continuation, holding its workspace
// when it follows a sandbox (claim). Caller holds m.mu.
func (m *Manager) startRecovered(t *turnState, claim bool, fn func()) {
	if claim {
		m.active[t.rec.Turn.WorkspaceID] = t
	}
	m.wg.Add(1)
	go func() {
		defer m.release(t)
		fn()
	}()
}

// runAgain queues again a re-attached turn whose agent never ran: its
// sandbox's shim could not reach the relay of the runner that crashed right
// after starting it. The sandbox is removed; the turn starts over.
func (m *Manager) runAgain(t *turnState) {
	log := m.log.With(zap.String("message_id", t.rec.Turn.MessageID), zap.String("container_id", t.rec.ContainerID))
	log.Info("the agent of a re-attached turn never started; queueing the turn again")
	ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
	err := m.sb.Remove(ctx, t.rec.ContainerID, t.rec.Turn.MessageID)
	cancel()
	if err != nil {
		log.Warn("cannot remove the sandbox of a turn to run again", zap.Error(err))
	}
	t.rec.ContainerID, t.rec.Lines = "", 0
	if err := m.store.putTurn(t.rec); err != nil {
		log.Warn("cannot record turn progress", zap.Error(err))
	}
	again := newTurnState(t.rec)
	again.cause, again.reason = t.stopCause(), t.reason
	m.mu.Lock()
	m.byMsg[t.rec.Turn.MessageID] = again
	m.pending = append([]*turnState{again}, m.pending...)
	m.mu.Unlock()
}

type leftoverRef struct{ containerID, workspaceID string }

// reattach follows a sandbox left by an earlier run to its end. adopted: the
// turn had not reported running yet, so it does now, and relays from the
// first line.
func (m *Manager) reattach(t *turnState, adopted bool) {
	closeAccess := m.reopenAccess(m.ctx, t) // the sandbox holds the turn's token and socket dir
	defer closeAccess()
	run, err := m.sb.Attach(m.ctx, t.rec.ContainerID, 0)
	if err != nil {
		m.log.Warn("cannot re-attach to turn", zap.String("message_id", t.rec.Turn.MessageID), zap.Error(err))
		m.answer(t, rpc.Errorf(rpc.CodeAgentFailed, "agent failed: the runner restarted and could not re-attach to the turn's sandbox: %v", err))
		return
	}
	t.setRun(run)
	if adopted {
		t.rec.State, t.rec.StartedAt = rpc.StateRunning, time.Now().UTC()
		t.rec.LinesSeq = max(t.rec.Seq, t.rec.MaxSeq) + 1
		m.emitState(t, rpc.StateRunning, m.nextSeq(t, rpc.StateRunning))
	}
	// The replay starts after the last line known delivered, with its seq.
	t.rec.Seq = t.rec.LinesSeq
	out := m.follow(t, run)
	if out.tracker.lines == 0 && out.cause == causeNone && out.status.ExitCode == relay.ShimExitSetup {
		m.runAgain(t)
		return
	}
	if !t.rec.StartedAt.IsZero() {
		out.durationMs = time.Since(t.rec.StartedAt).Milliseconds()
	}
	m.finish(t, out)
}
