package conversation

import (
	"context"
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

// modelGate opens a turn's only ways out of its sandbox: the model relay and
// the egress proxy (package relay).
type modelGate interface {
	Open(ctx context.Context, t relay.Turn) (*relay.Access, error)
}

// turnAccess is what a turn's Spec gets beyond the agent's own setup.
type turnAccess struct {
	env     []string
	mounts  []sandbox.Mount
	network string
	wrap    func(cmd []string) []string
	keeper  []string // the kept sandbox's process (sandbox.Spec.Keeper); nil: a container per turn
	close   func()
}

// keptSandboxes is the sandbox engine that keeps a workspace's sandbox warm
// across turns: the turns' relay sockets then live in the workspace's
// directory it mounts (warm.go of package sandbox).
type keptSandboxes interface {
	RelayDir(workspaceID string) (string, error)
}

// socketDir is the workspace's relay socket directory when sandboxes are
// kept, "" otherwise.
func (m *Manager) socketDir(workspaceID string) (string, error) {
	k, ok := m.sb.(keptSandboxes)
	if !ok {
		return "", nil
	}
	return k.RelayDir(workspaceID)
}

// command is the sandbox's command line: cmd, behind the relay's shim when
// there is one (no wrap: no gate, cmd as is).
func (a turnAccess) command(cmd []string) []string {
	if a.wrap == nil {
		return cmd
	}
	return a.wrap(cmd)
}

// openAccess opens the turn's relay (the token is kept in the turn record, so
// a restart can re-open it). An error means the sandbox must not start.
// Without a gate (a manager built by hand, e.g. in tests) the sandbox gets no
// network and no model access. (The git metadata is protected by the git
// dir's mounts: git.go.)
func (m *Manager) openAccess(ctx context.Context, t *turnState, co workspace.Checkout) (turnAccess, error) {
	if m.gate == nil {
		m.log.Warn("no model relay: the sandbox runs without model access", zap.String("message_id", t.rec.Turn.MessageID))
		return turnAccess{network: sandbox.NetworkNone, close: func() {}}, nil
	}
	turn := t.rec.Turn
	if co.GitDir != "" {
		t.rec.Origin = co.Repository.URL // durable with the token below
	}
	dir, err := m.socketDir(turn.WorkspaceID)
	if err != nil { // the turn gets a sandbox of its own; the relay says what it can
		m.log.Warn("no workspace socket dir: the turn's sandbox is not kept", zap.String("message_id", turn.MessageID), zap.Error(err))
		dir = ""
	}
	a, err := m.gate.Open(ctx, relay.Turn{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID, ConversationID: turn.ConversationID,
		Git: gitRemote(t), Timeout: m.turnTimeout(turn.Options), Notify: notifyGit(t), Meter: m.meterState(t), SocketDir: dir})
	if err != nil {
		return turnAccess{}, err
	}
	t.meter.attach(a)
	t.rec.RelayToken = a.Token // durable before the sandbox starts: a restart re-opens the relay with it
	if err := m.store.putTurn(t.rec); err != nil {
		a.Close()
		return turnAccess{}, fmt.Errorf("record the turn's relay token: %w", err)
	}
	acc := turnAccess{env: a.Env, mounts: a.Mounts, network: a.NetworkMode, wrap: a.Wrap, close: a.Close}
	if dir != "" {
		acc.keeper = a.Keeper
	}
	return acc, nil
}

// reopenAccess re-opens the relay of a turn re-attached after a restart, with
// the token its sandbox holds; the returned func closes it. When it cannot be
// re-opened the agent's model calls fail and the turn ends on its own.
func (m *Manager) reopenAccess(ctx context.Context, t *turnState) func() {
	turn := t.rec.Turn
	if m.gate == nil || t.rec.RelayToken == "" {
		return func() {}
	}
	dir, err := m.socketDir(turn.WorkspaceID)
	if err != nil {
		m.log.Error("cannot re-open the model relay of a re-attached turn", zap.String("message_id", turn.MessageID), zap.Error(err))
		return func() {}
	}
	a, err := m.gate.Open(ctx, relay.Turn{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Token: t.rec.RelayToken, Git: gitRemote(t), Notify: notifyGit(t), Meter: m.meterState(t), SocketDir: dir})
	if err != nil {
		m.log.Error("cannot re-open the model relay of a re-attached turn", zap.String("message_id", turn.MessageID), zap.Error(err))
		return func() {}
	}
	t.meter.attach(a)
	return a.Close
}
