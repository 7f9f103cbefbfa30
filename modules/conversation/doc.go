// Package conversation runs Claude Code turns: it schedules the turns of each
// workspace one at a time and at most --max-concurrent overall, prepares the
// checkout (workspace), runs `claude -p --output-format stream-json` in the
// workspace's sandbox, relays every stdout line as a conversation.event with
// its seq, and answers the conversation.send with the turn's result. Queued
// turns wait while the free-space gate (disk.Floor) is closed; a running turn's
// workspace is measured by the disk watcher, which may stop it (disk.go).
//
// Git (git.go): before the agent, the conversation's branch is checked out;
// the sandbox gets the workspace's git dir at /workspace/.git with its config,
// hooks and info read-only, and a commit identity (gitAuthor) in its
// environment; after the agent, with repository.push "always" and a completed
// turn, the runner commits what was left and pushes the branch (a failure is a
// git_push_failed runner event and a log line, never a changed status), and
// the result's git reports the checkout, with pushed from this turn's last
// git_push (the relay's) or the runner's own push.
//
// It remembers each conversation's Claude session (so later turns --resume it)
// and every unfinished turn (so a restarted runner re-attaches to its running
// sandboxes and loses no turn), with the relay's count of the turn's model use
// and the conversation's running total (meter.go: the result's `relay`, the
// budgets across turns and restarts; a turn whose budget is spent ends
// "budget: …"). It must not read Electric or speak HTTP: it
// gets turns from the handler and hands everything it produces to a Sink.
//
// # Persistence points
//
// Nothing irreversible (sending an item, removing a container) happens before
// the record that says it happened; a crash at any instant (kill -9, power
// cut) is followed by a start that finishes each turn exactly once. A turn
// meets these points in order (the names are the crashpoint names the crash
// test kills the runner at):
//
//  1. Enqueue queues the turn in arrival order and records it (state queued,
//     seq 1) in {dataDir}/conversations.db in the background; only then does
//     it tell the handler, which settles the intake's journal entry (sync: a
//     message is handed over again until settled), and only then may the
//     turn start. The records of many messages share a transaction and its
//     fdatasync (durable.Group), and so do the settlements. A message
//     handed over again is ignored when its turn is recorded or was answered
//     (the "answered" ids, kept 7 days). [turn-recorded]
//  2. Each state's seq is recorded with the state (StateSeq) before it is sent;
//     a start sends every unanswered turn's last reserved state again, so a
//     seq is never left a gap. [state-reserved]
//  3. Before the sandbox is created the prompt is written whole to
//     {dataDir}/prompts/<hash>; the sandbox reads it as stdin (read-only
//     bind, or passed to a kept sandbox's keeper), so a sandbox adopted after
//     a crash ran on the whole prompt. It is not synced: only a sandbox reads
//     it, and no sandbox outlives a crash of the machine (a turn that was
//     not running is prepared again, with a new prompt file). [prompt-written,
//     sandbox-started]
//  4. Each batch of lines: the record takes the batch's last seq (MaxSeq),
//     then the batch is sent; the relay position (Lines, LinesSeq) follows.
//     A re-attached turn replays from the last position known delivered with
//     the same seqs. [lines-reserved]
//  5. The sandbox keeps the ended container (Spec.Keep; a kept sandbox
//     stays busy with the turn). The answer (pending
//     notices, finished state, response, with their seqs) is recorded in the
//     turn record (Answer) before any of it is sent; from then on the turn
//     never runs again: a start sends the recorded items again. [sandbox-ended,
//     answer-recorded]
//  6. Sent (durable in the outbox), then the container is removed (a kept
//     sandbox is released to wait for the workspace's next turn; one that
//     serves another turn since a restart is left to it), the prompt
//     file removed, and the record forgotten with the stop and the id kept as
//     answered, in one transaction. [answer-sent, container-removed]
//
// A full or failing data dir (ENOSPC, EIO) changes none of this order: a
// write it refuses (a turn record, a state, a batch of lines, the answer,
// forgetting the turn) is retried, the same write with the same seqs, with
// backoff, until it is durable (durable.go); the turn waits there, so
// nothing after it happens early and nothing is dropped. Enqueue's record
// waits too and, when its caller stops first, tells it an error: the turn is not
// recorded and the message stays pending in the intake. While writes fail,
// StorageErr says so (the intake takes no new messages) and the failure and
// the recovery are logged once each. Only when the runner stops does a
// write give up (errGaveUp); the record then says where the next start
// picks up (an answer not recorded is not sent).
//
// A stop promised to someone (a cancel answered, a workspace deleted) is
// recorded (bucket stops) before the turn is signalled and before the answer
// goes out; a start applies it again: a queued or preparing turn is answered
// -32005, a re-attached sandbox is stopped. [cancel-recorded] Queued turns
// that a cancel, a withdrawal or a stopping runner ends are answered through
// point 5, before the caller's own answer.
package conversation
