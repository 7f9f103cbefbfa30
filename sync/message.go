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

	settle func()
	decide func(rpc.Response) (rpc.Response, error)
}

// Decided records the answer the handler is about to send before it is
// sent, so that a crash before Settled sends this same answer again instead
// of acting on the message a second time (a ping or a cancel answered
// twice, differently). Send the response it returns: the one a restart
// sends. The error says the answer could not be recorded.
func (m Message) Decided(resp rpc.Response) (rpc.Response, error) {
	if m.decide == nil {
		return resp, nil
	}
	return m.decide(resp)
}

// Settled tells the intake that the message is answered, or taken over
// durably (a turn recorded), so a restart no longer hands it over again.
// Until then the journal keeps it: a crash after the intake took it and
// before the handler made it durable dispatches it again on the next start.
func (m Message) Settled() {
	if m.settle != nil {
		m.settle()
	}
}

// Handler receives accepted messages, in order, each id once: again after a
// restart only when it had not called Message.Settled, so it must tolerate
// a message it took before the crash (a turn already recorded).
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
