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
// It must not run, queue or answer work itself: requests go to the Handler,
// and answers to rows that are not valid requests go to the Responder (the
// reporter). It never builds SQL text: the runner id travels as params[1].
package sync
