// Package conversation runs Claude Code turns: it schedules the turns of each
// workspace one at a time and at most --max-concurrent overall, prepares the
// checkout (workspace), runs `claude -p --output-format stream-json` in the
// workspace's sandbox, relays every stdout line as a conversation.event with
// its seq, and answers the conversation.send with the turn's result. Queued
// turns wait while the free-space gate (disk.Floor) is closed; a running turn's
// workspace is measured by the disk watcher, which may stop it (disk.go).
//
// It remembers each conversation's Claude session (so later turns --resume it)
// and every unfinished turn (so a restarted runner re-attaches to its running
// sandboxes and loses no turn). It must not read Electric or speak HTTP: it
// gets turns from the handler and hands everything it produces to a Sink.
package conversation
