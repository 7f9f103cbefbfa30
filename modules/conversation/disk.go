package conversation

import (
	"path/filepath"

	"github.com/claudette-dev/claudette-runner/modules/disk"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/reporter"
	"go.uber.org/zap"
)

// diskWatch is what the manager needs of the disk watcher (disk.Watcher).
type diskWatch interface {
	Watch(id, checkout, state string, hit func(disk.Event)) (stop func())
	Usage() []disk.Usage
	Forget(id string)
}

// diskVolumes frees a workspace's subvolume or quota project (disk.Limits).
type diskVolumes interface {
	Release(id string) error
}

// turnGate is what a queued turn waits at before it starts (disk.Floor: free
// space on the workspace and data file systems).
type turnGate interface {
	Open() (bool, string)
}

// watchDisk measures the turn's workspace while it runs: when it reaches its
// disk limit the turn's stream gets a disk_limit runner event, and a limit the
// runner enforces stops the turn with its reason.
func (m *Manager) watchDisk(t *turnState, co workspace.Checkout) (stop func()) {
	if m.disk == nil {
		return func() {}
	}
	return m.disk.Watch(t.rec.Turn.WorkspaceID, co.Dir, filepath.Dir(co.AgentStateDir), func(ev disk.Event) {
		t.notices.raise(rpc.RunnerEvent(rpc.RunnerDiskLimit, map[string]any{"used": ev.Used, "limit": ev.Limit}))
		if ev.Stop {
			t.stop(causeDiskLimit, ev.Reason)
		}
	})
}

// releaseDisk frees what the file system keeps for a workspace being deleted.
func (m *Manager) releaseDisk(workspaceID string) error {
	if m.volumes == nil {
		return nil
	}
	return m.volumes.Release(workspaceID)
}

// forgetDisk drops a deleted workspace's disk figures.
func (m *Manager) forgetDisk(workspaceID string) {
	if m.disk != nil {
		m.disk.Forget(workspaceID)
	}
}

// Ping is the result of runner.ping: the status and the workspaces' disk use.
func (m *Manager) Ping() rpc.PingResult {
	return rpc.PingResult{RunnerStatus: m.Status(), Disk: m.diskUsage()}
}

// diskUsage is the workspaces' measured disk use for runner.ping.
func (m *Manager) diskUsage() []rpc.WorkspaceDisk {
	if m.disk == nil {
		return nil
	}
	var out []rpc.WorkspaceDisk
	for _, u := range m.disk.Usage() {
		out = append(out, rpc.WorkspaceDisk{WorkspaceID: u.WorkspaceID, Used: u.Used, Limit: u.Limit, Mode: string(u.Mode)})
	}
	return out
}

// gateClosed reports whether queued turns must wait, and tells each waiting
// turn once why (its queued state again, with the reason). Caller holds m.mu.
func (m *Manager) gateClosed() (closed bool, held []*turnState, reason string) {
	if m.floor == nil {
		return false, nil, ""
	}
	open, reason := m.floor.Open()
	for _, t := range m.pending {
		if open {
			t.heldTold = false
		} else if !t.heldTold && !t.holding {
			t.heldTold, t.holding = true, true
			held = append(held, t)
		}
	}
	return !open, held, reason
}

// tellHeld sends the queued state again, with why the turns wait.
func (m *Manager) tellHeld(held []*turnState, reason string) {
	if len(held) == 0 {
		return
	}
	for _, t := range held {
		turn := t.rec.Turn
		m.log.Info("turn waits for free disk", zap.String("message_id", turn.MessageID), zap.String("reason", reason))
		seq := m.nextSeq(t, rpc.StateQueued)
		m.emitStateReason(t, rpc.StateQueued, seq, reason)
	}
	m.mu.Lock()
	for _, t := range held {
		t.holding = false
	}
	m.mu.Unlock()
	m.pump() // the gate may have opened meanwhile
}

func (m *Manager) emitStateReason(t *turnState, state string, seq int64, reason string) {
	turn := t.rec.Turn
	err := m.sink.Send(m.ctx, reporter.State(rpc.StateParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Seq: seq, State: state, Reason: reason}))
	if err != nil {
		m.log.Error("cannot deliver turn state", zap.String("message_id", turn.MessageID), zap.String("state", state), zap.Error(err))
	}
}
