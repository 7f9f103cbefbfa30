package handler

import (
	"context"
	stdsync "sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/retry"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sync"
	"go.uber.org/zap"
)

// turns is what the handler needs of the conversation manager.
type turns interface {
	Enqueue(ctx context.Context, t conversation.Turn, done func(error))
	Cancel(workspaceID, conversationID string) bool
	Withdraw(messageID string) bool
	DeleteWorkspace(ctx context.Context, workspaceID string) error
	Ping() rpc.PingResult // runner.ping: status and disk use
}

// respondBackoff paces the retries of an answer the outbox could not store.
var respondBackoff = retry.Backoff{Base: 50 * time.Millisecond, Cap: 2 * time.Second}

// deleteTimeout bounds a workspace.delete: stopping its turn and removing its files.
const deleteTimeout = 5 * time.Minute

// Handler dispatches accepted messages to their method.
type Handler struct {
	cfg       *config.Config
	log       *zap.Logger
	turns     turns
	responder sync.Responder
	deletes   stdsync.WaitGroup // workspace deletions under way
}

// New returns the handler.
func New(cfg *config.Config, log *zap.Logger, t turns, r sync.Responder) *Handler {
	return &Handler{cfg: cfg, log: log, turns: t, responder: r}
}

// Dispatch acts on one message and returns quickly: turns are queued, and a
// workspace deletion runs in the background.
func (h *Handler) Dispatch(ctx context.Context, m sync.Message) {
	req := m.Request
	switch req.Method {
	case rpc.MethodConversationSend:
		var p sendParams
		if err := decode(req.Params, &p); err != nil {
			h.fail(ctx, m, err)
			return
		}
		turn, err := p.turn(h.cfg.Git)
		if err != nil {
			h.fail(ctx, m, err)
			return
		}
		if err := checkBudgets(turn.Options, h.cfg.Meter); err != nil {
			h.fail(ctx, m, err)
			return
		}
		if m.WorkspaceID != "" && m.WorkspaceID != turn.WorkspaceID {
			h.fail(ctx, m, invalid("workspaceId", "does not match the row's workspace_id"))
			return
		}
		turn.MessageID, turn.RequestID = m.ID, req.ID
		// Queued in order at once; done says nil once the turn (or its
		// answer) is durable, an error (the data dir refused the record until
		// the intake stopped) leaves the message unsettled: the intake hands
		// it over again.
		h.turns.Enqueue(ctx, turn, func(err error) {
			if err != nil {
				h.log.Warn("turn not recorded; the message stays pending", zap.String("message_id", m.ID), zap.Error(err))
				return
			}
			h.settle(m)
		})

	case rpc.MethodConversationCancel:
		var p conversationRef
		if err := decode(req.Params, &p); err != nil {
			h.fail(ctx, m, err)
			return
		}
		if rerr := checkIDs(p.WorkspaceID, &p.ConversationID); rerr != nil {
			h.fail(ctx, m, rerr)
			return
		}
		h.respond(ctx, m, map[string]bool{"cancelled": h.turns.Cancel(p.WorkspaceID, p.ConversationID)})

	case rpc.MethodWorkspaceDelete:
		var p workspaceRef
		if err := decode(req.Params, &p); err != nil {
			h.fail(ctx, m, err)
			return
		}
		if rerr := checkIDs(p.WorkspaceID, nil); rerr != nil {
			h.fail(ctx, m, rerr)
			return
		}
		h.deletes.Add(1)
		go func() {
			defer h.deletes.Done()
			h.deleteWorkspace(m, p.WorkspaceID)
		}()

	case rpc.MethodRunnerPing:
		h.respond(ctx, m, h.turns.Ping())

	default:
		h.fail(ctx, m, rpc.Errorf(rpc.CodeMethodNotFound, "method not found: %q", req.Method))
	}
}

// Stop waits, bounded by ctx, for workspace deletions under way to finish and
// be answered. The intake has stopped by then: no new ones begin.
func (h *Handler) Stop(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.deletes.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.log.Warn("workspace deletion still under way at shutdown")
		return ctx.Err()
	}
}

// Withdraw drops a queued turn whose message was deleted before it started.
func (h *Handler) Withdraw(_ context.Context, messageID string) {
	if h.turns.Withdraw(messageID) {
		h.log.Info("queued turn withdrawn", zap.String("message_id", messageID))
	}
}

func (h *Handler) deleteWorkspace(m sync.Message, workspaceID string) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	if err := h.turns.DeleteWorkspace(ctx, workspaceID); err != nil {
		h.log.Error("workspace delete failed", zap.String("workspace_id", workspaceID), zap.Error(err))
		h.fail(ctx, m, rpc.Errorf(rpc.CodeSandboxFailed, "workspace delete failed: %v", err))
		return
	}
	h.log.Info("workspace deleted", zap.String("workspace_id", workspaceID))
	h.respond(ctx, m, map[string]bool{"deleted": true})
}

func checkIDs(workspaceID string, conversationID *string) *rpc.Error {
	if err := workspace.ValidateID("workspaceId", workspaceID); err != nil {
		return fromErr("workspaceId", err)
	}
	if conversationID != nil {
		if err := workspace.ValidateID("conversationId", *conversationID); err != nil {
			return fromErr("conversationId", err)
		}
	}
	return nil
}

func (h *Handler) respond(ctx context.Context, m sync.Message, result any) {
	h.send(ctx, m, rpc.Result(m.Request.ID, result))
}

func (h *Handler) fail(ctx context.Context, m sync.Message, err *rpc.Error) {
	h.log.Info("request rejected", zap.String("message_id", m.ID), zap.String("method", m.Request.Method),
		zap.Int("code", err.Code), zap.String("reason", err.Message))
	h.send(ctx, m, rpc.Failure(m.Request.ID, err))
}

// send records the answer with the message (a restart sends this one again),
// sends it and, once it is durable, settles the message.
func (h *Handler) send(ctx context.Context, m sync.Message, resp rpc.Response) {
	resp, err := m.Decided(resp)
	if err != nil {
		h.log.Warn("cannot record the answer before sending it", zap.String("message_id", m.ID), zap.Error(err))
	}
	err = h.responder.Respond(context.WithoutCancel(ctx), resp)
	// A full or failing data dir: the same answer again, until it is stored
	// or the intake stops (the message stays pending and is answered after
	// the next start).
	for attempt := 1; reporter.IsStorage(err) && ctx.Err() == nil; attempt++ {
		retry.Sleep(ctx, respondBackoff.Delay(attempt, 0))
		err = h.responder.Respond(context.WithoutCancel(ctx), resp)
	}
	if err != nil {
		h.log.Error("cannot deliver response", zap.String("message_id", m.ID), zap.Error(err))
		return
	}
	h.settle(m)
}

// settle tells the intake a message is answered or durably taken over: a
// restart before this hands it over again (doc.go).
func (h *Handler) settle(m sync.Message) {
	crashpoint.Hit(crashpoint.HandlerAnswered)
	m.Settled()
}
