// Package handler answers the JSON-RPC methods of CONTRACT section 2: it
// decodes and checks each accepted message's params (-32602 naming the field),
// hands conversation.send to the turn manager, and answers
// conversation.cancel, workspace.delete and runner.ping. Unknown methods get
// -32601. It must not run turns or talk to Electric: it sits between the
// intake (sync) and the conversation manager.
//
// Every message it is handed is settled (sync.Message.Settled) once it is
// durable: a conversation.send once Submit returned (the turn is recorded, or
// its answer is), every other method once its answer is in the outbox. A
// workspace.delete runs in the background and is settled only when answered,
// so a crash during it runs it again after the restart (it is idempotent).
// An answer the outbox cannot store (a full data dir) is sent again until
// it is stored or the intake stops; a turn Submit could not record is not
// settled. The intake's Gate (gate.go) is the turn manager's and the
// reporter's StorageErr: no new message is taken while either cannot write.
// A message the intake hands over again after a crash is answered again, or,
// for a turn already recorded or answered, ignored by the manager.
package handler
