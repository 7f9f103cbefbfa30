package conversation

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/containerd/errdefs"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

// execute runs one turn to its end and answers it. It owns the workspace slot.
func (m *Manager) execute(t *turnState) {
	defer m.release(t)
	started := time.Now()
	out := m.runTurn(t)
	out.durationMs = time.Since(started).Milliseconds()
	m.finish(t, out)
}

// release frees the turn's workspace and slot, and starts what waits.
func (m *Manager) release(t *turnState) {
	m.mu.Lock()
	ws := t.rec.Turn.WorkspaceID
	if m.active[ws] == t {
		delete(m.active, ws)
	}
	if m.byMsg[t.rec.Turn.MessageID] == t {
		delete(m.byMsg, t.rec.Turn.MessageID)
	}
	m.mu.Unlock()
	close(t.done)
	m.wg.Done()
	m.pump()
}

// runTurn prepares the checkout, starts the agent in the sandbox and follows it.
func (m *Manager) runTurn(t *turnState) outcome {
	turn := t.rec.Turn
	out := outcome{conversationID: turn.ConversationID, tracker: &streamTracker{}}
	ctx, cancel := context.WithCancel(m.ctx)
	defer cancel()
	t.setCancel(cancel)
	m.emitState(t, rpc.StatePreparing, m.nextSeq(t, rpc.StatePreparing))

	unlock, err := m.ws.Lock(ctx, turn.WorkspaceID)
	if err != nil {
		return m.stoppedOr(t, out, rpc.Errorf(rpc.CodeCheckoutFailed, "checkout failed: %v", err))
	}
	defer unlock()
	co, err := m.prepareTurn(ctx, turn)
	if err != nil {
		if errdefs.IsInvalidArgument(err) {
			return m.stoppedOr(t, out, invalidParams(err))
		}
		return m.stoppedOr(t, out, rpc.Errorf(rpc.CodeCheckoutFailed, "checkout failed: %v", err))
	}
	// Ownership is set when the checkout is made (a walk over every file):
	// afterwards only the sandbox user writes there, so later turns skip it.
	if co.Fresh {
		for _, dir := range []string{co.Dir, co.AgentStateDir} {
			if err := m.sb.PrepareDir(dir); err != nil {
				return m.stoppedOr(t, out, rpc.Errorf(rpc.CodeSandboxFailed, "sandbox failed: prepare %s: %v", dir, err))
			}
		}
	}
	sess, err := m.sessionFor(turn, co.AgentStateDir)
	if err != nil {
		return m.stoppedOr(t, out, rpc.Errorf(rpc.CodeAgentFailed, "session store: %v", err))
	}
	access, err := m.openAccess(ctx, t, co)
	if err != nil {
		return m.stoppedOr(t, out, rpc.Errorf(rpc.CodeSandboxFailed, "sandbox failed: %v", err))
	}
	defer access.close() // the turn's token dies with it
	prompt, err := m.writePrompt(turn)
	if err != nil {
		return m.stoppedOr(t, out, rpc.Errorf(rpc.CodeSandboxFailed, "sandbox failed: %v", err))
	}
	crashpoint.Hit(crashpoint.PromptWritten)
	run, err := m.sb.Run(ctx, m.withGit(turnSpec(turn, sess, co, access, m.turnTimeout(turn.Options), prompt), co))
	if err != nil {
		return m.stoppedOr(t, out, rpc.Errorf(rpc.CodeSandboxFailed, "sandbox failed: %v", err))
	}
	t.setRun(run)
	defer m.watchDisk(t, co)() // disk.go

	t.rec.State, t.rec.ContainerID = rpc.StateRunning, run.ContainerID()
	t.rec.SessionID, t.rec.StartedAt = sess.ID, time.Now().UTC()
	t.rec.Lines, t.rec.LinesSeq = 0, max(t.rec.Seq, t.rec.MaxSeq)+1 // the lines follow the running state
	m.emitState(t, rpc.StateRunning, m.nextSeq(t, rpc.StateRunning))
	m.log.Info("turn running", zap.String("message_id", turn.MessageID), zap.String("workspace_id", turn.WorkspaceID),
		zap.String("session_id", sess.ID), zap.Bool("resume", sess.Resume), zap.String("container_id", run.ContainerID()))
	return m.follow(t, run)
}

// follow relays the agent's output until it ends and returns how it ended.
// A re-attached run is read from its first line: the lines delivered before
// the restart (t.rec.Lines) are only observed.
func (m *Manager) follow(t *turnState, run *sandbox.Run) outcome {
	tracker := &streamTracker{sessionID: t.rec.SessionID, skip: t.rec.Lines}
	m.relay(t, run, tracker)
	status := m.shimStatus(t, run, run.Wait(m.ctx))
	return m.afterTurn(t, outcome{conversationID: t.rec.Turn.ConversationID, tracker: tracker, status: status, cause: t.stopCause()})
}

func (m *Manager) prepare(ctx context.Context, turn Turn) (workspace.Checkout, error) {
	if turn.LocalPath != "" {
		return m.ws.PrepareLocal(ctx, turn.WorkspaceID, turn.LocalPath, turn.Repository.Ref)
	}
	return m.ws.Prepare(ctx, turn.WorkspaceID, turn.Repository)
}

// invalidParams is -32602 for a turn the workspace refused (another
// repository than the workspace's): the message and data name the field.
func invalidParams(err error) *rpc.Error {
	var fe *workspace.FieldError
	if errors.As(err, &fe) {
		return &rpc.Error{Code: rpc.CodeInvalidParams, Message: fmt.Sprintf("invalid params: %s %s", fe.Field, fe.Reason),
			Data: map[string]string{"field": fe.Field}}
	}
	return rpc.Errorf(rpc.CodeInvalidParams, "invalid params: %v", err)
}

// stoppedOr is the outcome of a turn that ended before its agent ran: a stop
// the runner asked for wins over the error it caused.
func (m *Manager) stoppedOr(t *turnState, out outcome, err *rpc.Error) outcome {
	switch t.stopCause() {
	case causeCancelled:
		out.err = rpc.Errorf(rpc.CodeCancelled, "turn cancelled before the agent started")
	case causeShutdown:
		out.err = rpc.Errorf(rpc.CodeShuttingDown, "runner shutting down: the turn was stopped before the agent started")
	default:
		out.err = err
	}
	return out
}

// sessionFor chooses the Claude session of a turn: the conversation's,
// resumed, once the CLI has announced it or its transcript exists in the
// workspace's agent state (a turn the runner lost track of in a restart may
// have started it); otherwise a new id the runner picks, offered with
// --session-id until the CLI takes it.
func (m *Manager) sessionFor(turn Turn, agentStateDir string) (session, error) {
	rec, found, err := m.store.session(turn.WorkspaceID, turn.ConversationID)
	if err != nil {
		return session{}, err
	}
	if found && rec.SessionID != "" {
		if rec.Established || transcriptExists(agentStateDir, rec.SessionID) {
			return session{ID: rec.SessionID, Resume: true}, nil
		}
		return session{ID: rec.SessionID}, nil
	}
	rec.SessionID = uuid.NewString() // the rest of the record (the meter's total) stays
	return session{ID: rec.SessionID}, m.store.putSession(turn.WorkspaceID, turn.ConversationID, rec)
}

// transcriptExists reports whether the CLI wrote session id's transcript:
// {CLAUDE_CONFIG_DIR}/projects/<cwd as a name>/<id>.jsonl (claude-cli README
// section 7). Then --session-id would be refused as in use; --resume works.
func transcriptExists(agentStateDir, id string) bool {
	if agentStateDir == "" || !sessionIDPattern.MatchString(id) {
		return false
	}
	matches, err := filepath.Glob(filepath.Join(agentStateDir, "projects", "*", id+".jsonl"))
	return err == nil && len(matches) > 0
}

// sessionIDPattern is what a session id may be to name a file: a uuid, or
// what the CLI announces (letters, digits, '-', '_').
var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

func (m *Manager) turnTimeout(o Options) time.Duration {
	d := m.cfg.TurnTimeout
	if o.TimeoutSeconds > 0 {
		if per := time.Duration(o.TimeoutSeconds) * time.Second; per < d {
			d = per
		}
	}
	return d
}

// finish answers a turn: it remembers the session, records the answer (the
// notices left, the finished state, the response), then sends it, removes
// the kept sandbox and forgets the turn (deliverAnswer).
func (m *Manager) finish(t *turnState, out outcome) {
	turn := t.rec.Turn
	crashpoint.Hit(crashpoint.SandboxEnded)
	if cause := t.decide(); cause == causeCancelled && out.cause == causeNone && out.err == nil {
		out.cause = cause // cancelled after the run ended, before the answer: the cancel was promised
	}
	m.meterFinish(t, &out)
	resp := out.response(turn.RequestID)
	if out.tracker.sessionID != "" && (out.tracker.sawInit || out.tracker.result != nil) {
		rec, _, _ := m.store.session(turn.WorkspaceID, turn.ConversationID)
		rec.SessionID, rec.Established = out.tracker.sessionID, true
		if err := m.store.putSession(turn.WorkspaceID, turn.ConversationID, rec); err != nil {
			m.log.Warn("cannot record session", zap.String("conversation_id", turn.ConversationID), zap.Error(err))
		}
	}
	if err := m.decide(t, resp); err != nil {
		if errors.Is(err, errGaveUp) {
			// The data dir refused it until the runner stopped: the record
			// still says where the turn is, and the next start answers it.
			m.log.Warn("turn's answer not recorded before the stop; the next start answers it", zap.String("message_id", turn.MessageID), zap.Error(err))
			return
		}
		// Answering unrecorded beats not answering: the orchestrator hears of the turn.
		m.log.Error("cannot record the turn's answer; sending it anyway", zap.String("message_id", turn.MessageID), zap.Error(err))
	}
	if !m.deliverAnswer(t.rec) {
		return
	}
	status, code := "completed", 0
	if resp.Error != nil {
		status, code = "error", resp.Error.Code
	} else if r, ok := resp.Result.(Result); ok {
		status = r.Status
	}
	m.metrics.finished(status, time.Duration(out.durationMs)*time.Millisecond)
	m.log.Info("turn finished", zap.String("message_id", turn.MessageID), zap.String("workspace_id", turn.WorkspaceID),
		zap.String("status", status), zap.Int("error_code", code), zap.Int("exit_code", out.status.ExitCode),
		zap.String("reason", out.status.Reason), zap.Int64("lines", out.tracker.lines))
}

// answer ends a turn that never ran: the finished state and an error response.
func (m *Manager) answer(t *turnState, rerr *rpc.Error) {
	m.finish(t, outcome{conversationID: t.rec.Turn.ConversationID, tracker: &streamTracker{}, err: rerr})
}

// nextSeq reserves the next seq durably before it is sent, so that a restart
// never hands the same seq to a different item: it follows every seq ever
// reserved, also those of lines a lost sandbox cannot replay.
// The state and its seq are recorded together (StateSeq), so a restart sends
// that state again: a reserved seq is never left a gap.
func (m *Manager) nextSeq(t *turnState, state string) int64 {
	t.rec.Seq = max(t.rec.Seq, t.rec.MaxSeq) + 1
	t.rec.MaxSeq = t.rec.Seq
	t.rec.State, t.rec.StateSeq = state, t.rec.Seq
	if err := m.durably(m.ctx, "record the turn's state", t.rec.Turn.MessageID, func() error { return m.store.putTurn(t.rec) }); err != nil {
		m.log.Warn("cannot record turn progress", zap.String("message_id", t.rec.Turn.MessageID), zap.Error(err))
	}
	crashpoint.Hit(crashpoint.StateReserved)
	return t.rec.Seq
}

func (m *Manager) emitState(t *turnState, state string, seq int64) {
	turn := t.rec.Turn
	item := reporter.State(rpc.StateParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Seq: seq, State: state})
	err := m.durably(m.ctx, "send the turn's state", turn.MessageID, func() error { return m.sink.Send(m.ctx, item) })
	if err != nil {
		m.log.Error("cannot deliver turn state", zap.String("message_id", turn.MessageID), zap.String("state", state), zap.Error(err))
	}
}
