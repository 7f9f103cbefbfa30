package conversation

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/workspace"
)

// Turn is one conversation.send: a prompt for a conversation in a workspace.
type Turn struct {
	MessageID      string               `json:"messageId"`
	RequestID      json.RawMessage      `json:"requestId"`
	WorkspaceID    string               `json:"workspaceId"`
	ConversationID string               `json:"conversationId"`
	Prompt         string               `json:"prompt"`
	Repository     workspace.Repository `json:"repository"`
	Options        Options              `json:"options"`
	// LocalPath is a local repository cloned into the workspace instead of
	// Repository: only the operator's `exec` sets it, never a message.
	LocalPath string    `json:"localPath,omitempty"`
	Arrived   time.Time `json:"arrived"`
	Order     uint64    `json:"order"` // arrival order, unique per runner
}

// MaxPromptBytes is the largest prompt a turn accepts (CONTRACT section 2).
const MaxPromptBytes = 1 << 20

func sortByArrival(recs []*turnRecord) {
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i].Turn, recs[j].Turn
		if !a.Arrived.Equal(b.Arrived) {
			return a.Arrived.Before(b.Arrived)
		}
		return a.Order < b.Order
	})
}
