package main

import (
	"fmt"
	"io"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/conversation"
)

// settleLeftovers ends the turns an earlier exec on this data dir left (it
// was killed mid-turn): exec runs one turn and nobody waits for theirs, so
// each is cancelled (a queued one never runs, a running sandbox is stopped)
// and its answer awaited before this exec's own turn is queued. It says what
// it did on w, and false when one would not end.
func settleLeftovers(w io.Writer, mgr *conversation.Manager, tr *transcript, grace time.Duration, stateDir string) bool {
	left := mgr.Unfinished()
	if len(left) == 0 {
		return true
	}
	ids := make([]string, 0, len(left))
	for _, t := range left {
		fmt.Fprintf(w, "claudette-runner exec: an earlier exec left turn %s (workspace %s, conversation %s) unfinished: cancelling it\n",
			t.MessageID, t.WorkspaceID, t.ConversationID)
		mgr.Cancel(t.WorkspaceID, t.ConversationID)
		ids = append(ids, t.MessageID)
	}
	// A running sandbox gets SIGTERM, its grace, then SIGKILL.
	if open := tr.waitFinished(ids, 2*grace+time.Minute); len(open) > 0 {
		fmt.Fprintf(w, "claudette-runner exec: turns %v an earlier exec left did not end; run exec again, or remove %s\n", open, stateDir)
		return false
	}
	fmt.Fprintf(w, "claudette-runner exec: cleaned up %d turn(s) an earlier exec left\n", len(left))
	return true
}
