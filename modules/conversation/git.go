package conversation

import (
	"context"
	"encoding/json"
	"path"
	"path/filepath"
	stdsync "sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

// The git side of a turn (CONTRACT section 6): the conversation's branch is
// checked out before the agent runs; the sandbox gets the repository's git
// dir (kept in the data dir) at /workspace/.git with its config, hooks and
// info read-only, and a commit identity; after the agent the runner commits
// and pushes when repository.push is "always" and the turn completed, and
// reports the checkout in the result's git.

// gitWorkspaces is what the git steps need of the workspace manager. A
// manager without them (a fake in a test) gets no branch and no report.
type gitWorkspaces interface {
	CheckoutBranch(ctx context.Context, id, branch string) error
	Report(ctx context.Context, id string) (*workspace.GitReport, error)
	Commit(ctx context.Context, id, branch, message string) (string, error)
	Push(ctx context.Context, id, branch string) (*workspace.PushedRef, error)
}

// gitStepTimeout bounds the runner's own git work after a turn (commit,
// push, report).
const gitStepTimeout = 10 * time.Minute

// turnBranch is the conversation's branch: repository.branch, or its default.
func turnBranch(turn Turn) string {
	if turn.Repository.Branch != "" {
		return turn.Repository.Branch
	}
	return workspace.DefaultBranch(turn.ConversationID)
}

// prepareTurn is the checkout of a turn with the conversation's branch
// checked out. A branch that cannot be checked out (uncommitted work of
// another conversation, say) is a failed checkout whose message says why.
func (m *Manager) prepareTurn(ctx context.Context, turn Turn) (workspace.Checkout, error) {
	co, err := m.prepare(ctx, turn)
	if err != nil {
		return co, err
	}
	if g, ok := m.ws.(gitWorkspaces); ok && co.GitDir != "" {
		if err := g.CheckoutBranch(ctx, turn.WorkspaceID, turnBranch(turn)); err != nil {
			return co, err
		}
	}
	return co, nil
}

// withGit adds the git dir's mounts and the commit identity to a turn's
// sandbox spec.
func (m *Manager) withGit(spec sandbox.Spec, co workspace.Checkout) sandbox.Spec {
	spec.Mounts = append(spec.Mounts, gitMounts(co)...)
	spec.Env = append(spec.Env, gitEnv(m.cfg.Git.Author)...)
	return spec
}

// gitMounts binds the git dir over the checkout's .git (a mount point the
// agent can neither rename nor remove) and its read-only parts over that.
func gitMounts(co workspace.Checkout) []sandbox.Mount {
	if co.GitDir == "" {
		return nil
	}
	inside := path.Join(sandbox.WorkspacePath, ".git")
	mounts := []sandbox.Mount{{Source: co.GitDir, Target: inside}}
	for _, name := range co.GitReadOnly {
		mounts = append(mounts, sandbox.Mount{Source: filepath.Join(co.GitDir, name), Target: path.Join(inside, name), ReadOnly: true})
	}
	return mounts
}

// gitEnv is the agent's commit identity (gitAuthor), so `git commit` works
// with no set-up. Never a credential.
func gitEnv(author string) []string {
	a, err := config.ParseAuthor(author)
	if err != nil {
		return nil
	}
	return []string{
		"GIT_AUTHOR_NAME=" + a.Name, "GIT_AUTHOR_EMAIL=" + a.Email,
		"GIT_COMMITTER_NAME=" + a.Name, "GIT_COMMITTER_EMAIL=" + a.Email,
	}
}

// afterTurn is the runner's git work once the agent has ended: with
// repository.push "always" and a completed turn, commit what the agent left
// and push the branch; then the report into out.git, with pushed from this
// turn's last successful push (the agent's through the relay, or the
// runner's). Failures are logged and, for the runner's own push, raised as
// runner events; they never change the turn's status. No report (git null)
// when the workspace has no checkout or cannot be read.
func (m *Manager) afterTurn(t *turnState, out outcome) outcome {
	turn := t.rec.Turn
	pushed := t.pushed.take()
	g, ok := m.ws.(gitWorkspaces)
	if !ok {
		return out
	}
	ctx, cancel := context.WithTimeout(m.ctx, gitStepTimeout)
	defer cancel()
	branch := turnBranch(turn)
	if turn.Repository.Push == workspace.PushAlways && completed(out) {
		if p := m.pushAlways(ctx, t, g, branch); p != nil {
			pushed = p
		}
	}
	rep, err := g.Report(ctx, turn.WorkspaceID)
	if err != nil {
		m.log.Warn("cannot report the checkout", zap.String("message_id", turn.MessageID),
			zap.String("workspace_id", turn.WorkspaceID), zap.Error(err))
		return out
	}
	rep.Pushed = pushed
	out.git = rep
	return out
}

// completed reports whether the turn's answer will say "completed".
func completed(out outcome) bool {
	r, ok := out.response(nil).Result.(Result)
	return ok && r.Status == rpc.StatusCompleted
}

// pushAlways commits the agent's leftovers and pushes the branch; nil when
// the push did not happen (the events and the log say why).
func (m *Manager) pushAlways(ctx context.Context, t *turnState, g gitWorkspaces, branch string) *workspace.PushedRef {
	turn := t.rec.Turn
	ref := "refs/heads/" + branch
	log := m.log.With(zap.String("message_id", turn.MessageID), zap.String("workspace_id", turn.WorkspaceID), zap.String("branch", branch))
	failed := func(step string, err error) *workspace.PushedRef {
		log.Warn("the runner's push failed", zap.String("step", step), zap.Error(err))
		t.notices.raise(rpc.RunnerEvent(rpc.RunnerGitPushFailed, map[string]any{"ref": ref, "reason": step + ": " + err.Error()}))
		return nil
	}
	sha, err := g.Commit(ctx, turn.WorkspaceID, branch, workspace.CommitMessage)
	if err != nil {
		return failed("commit", err)
	}
	if sha != "" {
		t.notices.raise(rpc.RunnerEvent(rpc.RunnerGitCommit, map[string]any{"ref": ref, "sha": sha}))
	}
	p, err := g.Push(ctx, turn.WorkspaceID, branch)
	if err != nil {
		return failed("push", err)
	}
	return p
}

// gitRemote is what the turn's git relay serves: the workspace's recorded
// origin, pushes only to the conversation's branch; nil without a checkout.
func gitRemote(t *turnState) *relay.GitRemote {
	if t.rec.Origin == "" {
		return nil
	}
	return &relay.GitRemote{URL: t.rec.Origin, Branch: turnBranch(t.rec.Turn)}
}

// lastPush is a turn's last successful push through the git relay, seen in
// the git_push events the relay raises. (In memory: a turn re-attached after
// a restart reports only the pushes made since.)
type lastPush struct {
	mu  stdsync.Mutex
	ref *workspace.PushedRef
}

func (p *lastPush) set(ref *workspace.PushedRef) {
	p.mu.Lock()
	p.ref = ref
	p.mu.Unlock()
}

func (p *lastPush) take() *workspace.PushedRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	ref := p.ref
	p.ref = nil
	return ref
}

// notifyGit is a turn's Notify for its relays: every runner event joins the
// turn's stream, and a git_push is remembered for the report's pushed.
func notifyGit(t *turnState) func(json.RawMessage) {
	return func(ev json.RawMessage) {
		var e struct {
			Type, Subtype, Ref, New string
		}
		if json.Unmarshal(ev, &e) == nil && e.Type == rpc.EventTypeRunner && e.Subtype == rpc.RunnerGitPush && e.Ref != "" && e.New != "" {
			t.pushed.set(&workspace.PushedRef{Ref: e.Ref, SHA: e.New})
		}
		t.notices.raise(ev)
	}
}
