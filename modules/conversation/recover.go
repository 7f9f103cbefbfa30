package conversation

import (
	"time"

	"context"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// recover takes up the turns an earlier run of the runner left unfinished.
// Queued and preparing turns are queued again (preparation starts over). A
// running turn whose sandbox still runs is re-attached: the rest of its output
// is relayed with continuing seq, from the last line known to be delivered, so a
// repeated line repeats its (messageId, seq). A running turn whose sandbox is
// gone is answered -32003: never silence.
func (m *Manager) recover(ctx context.Context) error {
	recs, err := m.store.turns()
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	alive := map[string]bool{}
	for _, l := range m.sb.Leftovers() {
		alive[l.ContainerID] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rec := range recs {
		t := newTurnState(rec)
		if rec.Turn.Order > m.order.Load() {
			m.order.Store(rec.Turn.Order)
		}
		m.byMsg[rec.Turn.MessageID] = t
		log := m.log.With(zap.String("message_id", rec.Turn.MessageID), zap.String("workspace_id", rec.Turn.WorkspaceID))
		switch {
		case rec.State != rpc.StateRunning:
			log.Info("turn queued again after restart", zap.String("was", rec.State))
			m.pending = append(m.pending, t)
		case alive[rec.ContainerID] && m.active[rec.Turn.WorkspaceID] == nil:
			log.Info("re-attaching to running turn", zap.String("container_id", rec.ContainerID), zap.Int64("lines_delivered", rec.Lines))
			m.active[rec.Turn.WorkspaceID] = t
			m.wg.Add(1)
			go m.reattach(ctx, t)
		default:
			log.Warn("turn's sandbox is gone after restart", zap.String("container_id", rec.ContainerID))
			m.wg.Add(1)
			m.active[rec.Turn.WorkspaceID] = t
			go func() {
				defer m.release(t)
				m.answer(t, rpc.Errorf(rpc.CodeAgentFailed, "agent failed: the runner restarted while the turn ran and its sandbox is gone"))
			}()
		}
	}
	return nil
}

// reattach follows a running sandbox left by an earlier run to its end.
func (m *Manager) reattach(ctx context.Context, t *turnState) {
	defer m.release(t)
	run, err := m.sb.Attach(m.ctx, t.rec.ContainerID, t.rec.Lines)
	if err != nil {
		m.log.Warn("cannot re-attach to turn", zap.String("message_id", t.rec.Turn.MessageID), zap.Error(err))
		m.answer(t, rpc.Errorf(rpc.CodeAgentFailed, "agent failed: the runner restarted and could not re-attach to the turn's sandbox: %v", err))
		return
	}
	t.setRun(run)
	out := m.follow(t, run)
	if !t.rec.StartedAt.IsZero() {
		out.durationMs = time.Since(t.rec.StartedAt).Milliseconds()
	}
	m.finish(t, out)
}
