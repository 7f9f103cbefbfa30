package conversation

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/claudette-dev/claudette-runner/modules/relay"
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
	close   func()
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
// a restart can re-open it) and protects the checkout's git metadata. An
// error means the sandbox must not start. Without a gate (a manager built by
// hand, e.g. in tests) the sandbox gets no network and no model access.
func (m *Manager) openAccess(ctx context.Context, t *turnState, checkout string) (turnAccess, error) {
	guard, err := gitGuard(checkout)
	if err != nil {
		return turnAccess{}, err
	}
	if m.gate == nil {
		m.log.Warn("no model relay: the sandbox runs without model access", zap.String("message_id", t.rec.Turn.MessageID))
		return turnAccess{mounts: guard, network: sandbox.NetworkNone, close: func() {}}, nil
	}
	turn := t.rec.Turn
	a, err := m.gate.Open(ctx, relay.Turn{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID, ConversationID: turn.ConversationID,
		Timeout: m.turnTimeout(turn.Options), Notify: t.notices.raise})
	if err != nil {
		return turnAccess{}, err
	}
	t.rec.RelayToken = a.Token // durable before the sandbox starts: a restart re-opens the relay with it
	if err := m.store.putTurn(t.rec); err != nil {
		a.Close()
		return turnAccess{}, fmt.Errorf("record the turn's relay token: %w", err)
	}
	return turnAccess{env: a.Env, mounts: append(a.Mounts, guard...), network: a.NetworkMode, wrap: a.Wrap, close: a.Close}, nil
}

// reopenAccess re-opens the relay of a turn re-attached after a restart, with
// the token its sandbox holds; the returned func closes it. When it cannot be
// re-opened the agent's model calls fail and the turn ends on its own.
func (m *Manager) reopenAccess(ctx context.Context, t *turnState) func() {
	turn := t.rec.Turn
	if m.gate == nil || t.rec.RelayToken == "" {
		return func() {}
	}
	a, err := m.gate.Open(ctx, relay.Turn{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Token: t.rec.RelayToken, Notify: t.notices.raise})
	if err != nil {
		m.log.Error("cannot re-open the model relay of a re-attached turn", zap.String("message_id", turn.MessageID), zap.Error(err))
		return func() {}
	}
	return a.Close
}

// gitGuard mounts the checkout's .git/hooks and .git/config read-only over
// the read-write checkout, so the agent cannot plant a hook or a config
// (core.hooksPath, core.fsmonitor...) that a person's git would run later.
// Either is created empty when missing, so the agent cannot create it either.
// Symlinks are refused: a bind mount would follow them out of the checkout.
func gitGuard(checkout string) ([]sandbox.Mount, error) {
	gitDir := filepath.Join(checkout, ".git")
	fi, err := os.Lstat(gitDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // not a repository: nothing to protect
	}
	if err != nil {
		return nil, fmt.Errorf("protect .git: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("protect .git: %s is not a directory", gitDir)
	}
	if err := os.Mkdir(filepath.Join(gitDir, "hooks"), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("protect .git/hooks: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(gitDir, "config"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("protect .git/config: %w", err)
	}
	inside := path.Join(sandbox.WorkspacePath, ".git")
	var mounts []sandbox.Mount
	for _, p := range []struct {
		name string
		dir  bool
	}{{"hooks", true}, {"config", false}} {
		src := filepath.Join(gitDir, p.name)
		fi, err := os.Lstat(src)
		if err != nil {
			return nil, fmt.Errorf("protect .git/%s: %w", p.name, err)
		}
		if (p.dir && !fi.IsDir()) || (!p.dir && !fi.Mode().IsRegular()) {
			return nil, fmt.Errorf("protect .git/%s: it is a %v, refusing to mount it", p.name, fi.Mode().Type())
		}
		mounts = append(mounts, sandbox.Mount{Source: src, Target: path.Join(inside, p.name), ReadOnly: true})
	}
	return mounts, nil
}
