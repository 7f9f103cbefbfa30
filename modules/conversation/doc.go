// Package conversation runs Claude Code turns: it schedules the turns of each
// workspace one at a time and at most --max-concurrent overall, prepares the
// checkout (workspace), runs `claude -p --output-format stream-json` in the
// workspace's sandbox, relays every stdout line as a conversation.event with
// its seq, and answers the conversation.send with the turn's result.
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
package conversation
