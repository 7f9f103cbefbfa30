package rpc

import "encoding/json"

// EventTypeRunner is the "type" of the events the runner itself adds to a
// turn's stream (CONTRACT sections 6 and 7), beside the agent's own lines.
const EventTypeRunner = "runner"

// Subtypes of runner events.
const (
	RunnerInvalidLine     = "invalid_line"     // {truncated, bytes, text}
	RunnerGitPush         = "git_push"         // {ref, old, new}
	RunnerGitPushRefused  = "git_push_refused" // {ref, reason}
	RunnerGitPushFailed   = "git_push_failed"  // {ref, reason}: the runner's own push (repository.push always)
	RunnerGitCommit       = "git_commit"       // {ref, sha}: the runner committed what the agent left
	RunnerEgressRefused   = "egress_refused"   // {host, port, reason}
	RunnerBudgetExhausted = "budget_exhausted" // {budget, used, limit}
	RunnerDiskLimit       = "disk_limit"       // {used, limit}
)

// RunnerEvent is the JSON of a runner event: {"type":"runner","subtype":…}
// followed by fields (which must not hold "type" or "subtype").
func RunnerEvent(subtype string, fields map[string]any) json.RawMessage {
	m := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		m[k] = v
	}
	m["type"], m["subtype"] = EventTypeRunner, subtype
	b, err := json.Marshal(m)
	if err != nil { // a field that cannot be marshalled is a programming error: say so in the stream
		b, _ = json.Marshal(map[string]string{"type": EventTypeRunner, "subtype": subtype, "error": err.Error()})
	}
	return b
}
