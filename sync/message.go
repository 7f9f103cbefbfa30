package sync

import (
	"context"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// Message is one accepted inbound request: an Electric insert into
// runner_messages whose payload is a valid JSON-RPC 2.0 request.
type Message struct {
	ID          string
	RunnerID    string
	WorkspaceID string
	Request     rpc.Request
	CreatedAt   string // as Electric sent it (Postgres timestamptz text)
}

// Handler receives accepted messages, in order, each id at most once.
// Dispatch must return quickly: the handler queues the work. Withdraw is
// called for the delete of an id that was dispatched; the handler drops the
// message if it has not started and ignores it otherwise (the orchestrator
// also deletes every row once it has the final response). The context is
// only for the call.
type Handler interface {
	Dispatch(ctx context.Context, m Message)
	Withdraw(ctx context.Context, messageID string)
}

// Responder answers rows that are not valid requests (-32700 / -32600 from
// rpc.ParseRequest); the reporter implements it. It must return quickly.
type Responder interface {
	Respond(ctx context.Context, r rpc.Response) error
}
