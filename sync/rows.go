package sync

import (
	"encoding/json"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// maxIDBytes bounds a row id the journal will keep; longer ids are dropped.
const maxIDBytes = 1024

// messageIDPattern is what a message id must look like to be dispatched: it
// ends up in container labels, logs and file names downstream. It admits
// UUIDs, ULIDs and prefixed ids (`msg_…`, `urn:…`), up to 128 characters.
var messageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._:-]{0,127}$`)

// itemKind is what one change message means to the intake.
type itemKind int

const (
	itemSkip     itemKind = iota // nothing to do (update, other runner, unusable row)
	itemDispatch                 // a valid request: dispatch it
	itemReject                   // a row that is not a valid request: answer it
	itemDrop                     // a row with a usable id but nothing to answer: journal it, log it
	itemWithdraw                 // a delete: withdraw the id if it was dispatched
)

// item is one change message, decoded and judged.
type item struct {
	kind    itemKind
	op      string // insert | update | delete | "" when unreadable
	key     string // Electric's row key, to name a row without a usable id
	id      string
	msg     Message
	answer  rpc.Response // itemReject
	reason  string       // why the row was skipped, dropped or rejected (metric label and log)
	runner  string       // itemSkip for another runner: the runner id it names
	warning bool         // itemSkip worth a warning
}

// change is the part of an Electric change message the intake reads.
type change struct {
	Key     string                     `json:"key"`
	Value   map[string]json.RawMessage `json:"value"`
	Headers struct {
		Operation string `json:"operation"`
	} `json:"headers"`
}

// text reads one column as Electric sends it: a JSON string, or null.
// present is false when the column is absent, null when it is null, and err
// is set when the value is neither a string nor null.
func text(v map[string]json.RawMessage, col string) (s string, present, null bool, err error) {
	raw, ok := v[col]
	if !ok {
		return "", false, false, nil
	}
	var p *string
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", true, false, fmt.Errorf("column %s is not a string or null", col)
	}
	if p == nil {
		return "", true, true, nil
	}
	return *p, true, false, nil
}

// decode judges one change message for this runner.
func decode(raw json.RawMessage, runnerID string) item {
	var c change
	if err := json.Unmarshal(raw, &c); err != nil {
		return item{kind: itemSkip, reason: "not_a_change", warning: true}
	}
	it := item{op: c.Headers.Operation, key: clip(c.Key, 200)}
	switch c.Headers.Operation {
	case opInsert, opDelete:
	case opUpdate:
		it.kind, it.reason = itemSkip, "update"
		return it
	default:
		it.kind, it.reason, it.warning = itemSkip, "unknown_operation", true
		return it
	}
	id, _, _, err := text(c.Value, colID)
	if err != nil || id == "" || len(id) > maxIDBytes || !utf8.ValidString(id) {
		it.kind, it.reason, it.warning = itemSkip, "no_usable_id", true
		return it
	}
	it.id = id
	if c.Headers.Operation == opDelete {
		it.kind = itemWithdraw
		return it
	}
	runner, _, _, err := text(c.Value, colRunnerID)
	if err != nil || runner != runnerID {
		it.kind, it.reason, it.runner, it.warning = itemSkip, "other_runner", clip(runner, 80), true
		return it
	}
	return judge(it, c.Value)
}

// judge checks an insert for this runner: its ids and its payload.
func judge(it item, v map[string]json.RawMessage) item {
	reject := func(req rpc.Request, e *rpc.Error, reason string) item {
		it.kind, it.reason, it.answer = itemReject, reason, rpc.Failure(req.ID, e)
		return it
	}
	payload, present, null, err := text(v, colPayload)
	if !present || null {
		it.kind, it.reason = itemDrop, "no_payload"
		return it
	}
	if err != nil {
		// Not a string: not what Electric sends for jsonb. Answer to its id if it has one.
		req, _ := rpc.ParseRequest(v[colPayload])
		return reject(req, rpc.Errorf(rpc.CodeInvalidRequest, "invalid request: payload must arrive as jsonb text"), "payload_not_text")
	}
	req, perr := rpc.ParseRequest([]byte(payload))
	if perr != nil {
		reason := "invalid_request"
		if perr.Code == rpc.CodeParseError {
			reason = "parse_error"
		}
		return reject(req, perr, reason)
	}
	if !messageIDPattern.MatchString(it.id) {
		return reject(req, rpc.Errorf(rpc.CodeInvalidRequest, "invalid request: message id must be 1-128 of A-Z a-z 0-9 . _ : - and not start with '.' or ':'"), "bad_message_id")
	}
	ws, _, _, err := text(v, colWorkspaceID)
	if err != nil || (ws != "" && !config.IDPattern.MatchString(ws)) {
		return reject(req, rpc.Errorf(rpc.CodeInvalidRequest, "invalid request: workspace_id must be 1-64 of A-Z a-z 0-9 . _ - and not start with '.'"), "bad_workspace_id")
	}
	created, _, _, err := text(v, colCreatedAt)
	if err != nil {
		created = ""
	}
	runner, _, _, _ := text(v, colRunnerID)
	it.kind = itemDispatch
	it.msg = Message{ID: it.id, RunnerID: runner, WorkspaceID: ws, Request: req, CreatedAt: created}
	return it
}
