// Package sync is the runner's message intake: it follows the Electric shape
// of table runner_messages for this runner (CONTRACT section 2) over the HTTP
// Shape API, and hands every accepted request to a Handler, at most once.
//
// It owns the shape stream (initial sync, live long-polls, 409 must-refetch,
// retries with backoff), the durable position and the journal of accepted
// message ids in {dataDir}/intake.db, the readiness component "electric" and
// the claudette_intake_* metrics. A message id is recorded in the journal
// before it is dispatched, and the shape position is saved in the same
// transaction, so a restart or a resync never dispatches an id twice.
//
// In that transaction each new message is also kept as pending (the message,
// or the answer to an invalid row) until it is settled: the handler calls
// Message.Settled once the message is durable elsewhere (a turn recorded, an
// answer in the outbox); an answer the handler decides is recorded first
// (Message.Decided) and replaces the message. Start hands every unsettled
// entry over again, in order, before reading the shape: the request to the
// Handler, a recorded answer to the Responder. So a crash between the
// journal's commit and the handler's durable step neither loses the message
// nor acts on it twice with different answers. [crashpoints intake-committed,
// handler-answered]
//
// New messages are journaled only while the runner can take them over
// (gate.go): the Gate (what records and answers them can write) and a small
// free-space reserve on the data dir's file system (bbolt reuses its free
// pages, so the journal could commit on a full disk). While either refuses,
// nothing is journaled, the position does not move, the "electric"
// readiness says why (logged once) and the same request is made again soon.
//
// It must not run, queue or answer work itself: requests go to the Handler,
// and answers to rows that are not valid requests go to the Responder (the
// reporter). It never builds SQL text: the runner id travels as params[1].
package sync
