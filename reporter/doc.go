// Package reporter delivers the runner's outbound JSON-RPC traffic to the
// orchestrator (CONTRACT.md section 3): responses to inbound requests,
// conversation.event and conversation.state notifications, and
// runner.heartbeat.
//
// Every item is stored durably in the outbox, an append-only log of segment
// files in {dataDir}/outbox, before Send returns: concurrent Sends are written
// together with one write and one fdatasync (group commit). A single sender
// drains the log in order, in batches bounded by items and bytes, and POSTs
// each batch as a JSON array. A 2xx moves past the batch (delivered segments
// are deleted); 408, 429, 5xx and network errors are retried with
// full-jitter backoff, in order; 401 and 403 keep the data, mark the
// "orchestrator" readiness component not ready and retry slowly; any other
// 4xx moves the batch to a file in {dataDir}/deadletter and delivery goes on.
// Producers wait (backpressure) while the outbox is over its size bound.
// Heartbeats are not stored: the latest one rides with the next batch.
//
// A full or failing data dir (ENOSPC, EIO on a commit) loses nothing: the
// failed commit is cut off (nothing half-written stays in the log; a
// segment whose first commit failed is written again, never replaced by a
// second file of the same name), Send returns an error IsStorage reports
// and stored nothing, so the producer sends the same items again and they
// get the same place in the order. Meanwhile the "outbox" readiness
// component is not ready with the reason, StorageErr is not nil (the intake
// takes no new work), delivery of what is stored goes on, and the failure
// and the recovery are logged once each; the first good commit clears it.
//
// The package owns {dataDir}/outbox, {dataDir}/deadletter and the HTTP
// conversation with the orchestrator. It must not decide what is sent: the
// conversation layer and the intake build the items (Event, State, Response)
// and choose their seq; the reporter only stores, orders and delivers them.
package reporter
