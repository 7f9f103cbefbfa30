package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	stdsync "sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
)

// transcript is the sink of `exec`: it prints what the agent does in this
// exec's turn (or, with --json, each of its stream-json lines as is) and
// keeps the turn's response. Items of other turns (those an earlier exec
// left, settled before this one starts) are not printed; their answers are
// noted on notes.
type transcript struct {
	out, notes io.Writer
	raw        bool
	messageID  string          // this exec's turn
	requestID  json.RawMessage // and its request id: only its answer ends the exec
	repo       string          // --repo as given, for how to look at a pushed branch

	mu        stdsync.Mutex
	resp      *rpc.Response
	done      chan struct{}
	finished  map[string]bool // other turns answered
	changed   chan struct{}   // closed (and replaced) when another turn is answered
	lastOther string          // the other turn whose finished state came last
}

func newTranscript(out, notes io.Writer, raw bool, turn conversation.Turn, repo string) *transcript {
	return &transcript{out: out, notes: notes, raw: raw, messageID: turn.MessageID, requestID: turn.RequestID,
		repo: repo, done: make(chan struct{}), finished: map[string]bool{}, changed: make(chan struct{})}
}

// wire is an outbound item as the orchestrator would receive it.
type wire struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *rpc.Error      `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// Send prints the items of this exec's turn; it is conversation.Sink.
func (tr *transcript) Send(_ context.Context, items ...reporter.Item) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, it := range items {
		var w wire
		if err := json.Unmarshal(it.JSON(), &w); err != nil {
			return err
		}
		switch w.Method {
		case rpc.NotifyEvent:
			var p rpc.EventParams
			if err := json.Unmarshal(w.Params, &p); err != nil {
				return err
			}
			switch {
			case p.MessageID != tr.messageID:
			case tr.raw:
				fmt.Fprintf(tr.out, "%s\n", p.Event) // byte-exact: what the agent printed
			default:
				tr.printEvent(p.Event)
			}
		case rpc.NotifyState:
			var p rpc.StateParams
			if err := json.Unmarshal(w.Params, &p); err != nil {
				return err
			}
			if p.MessageID != tr.messageID && p.State == rpc.StateFinished {
				tr.lastOther = p.MessageID
				tr.finished[p.MessageID] = true
				close(tr.changed)
				tr.changed = make(chan struct{})
			}
		case "":
			resp := rpc.Response{ID: w.ID, Error: w.Error}
			if w.Result != nil {
				resp.Result = w.Result
			}
			if !bytes.Equal(bytes.TrimSpace(w.ID), tr.requestID) {
				fmt.Fprintf(tr.notes, "claudette-runner exec: turn %s, left by an earlier exec, ended: %s\n",
					printable(tr.lastOther), describe(&resp))
				continue
			}
			if tr.resp != nil {
				continue // a repeated answer changes nothing
			}
			tr.resp = &resp
			if !tr.raw {
				tr.printGit(resultOf(&resp))
			}
			close(tr.done)
		}
	}
	return nil
}

// waitFinished waits until every turn in ids is answered, or timeout;
// it reports the ones still unanswered.
func (tr *transcript) waitFinished(ids []string, timeout time.Duration) []string {
	deadline := time.After(timeout)
	for {
		tr.mu.Lock()
		var open []string
		for _, id := range ids {
			if !tr.finished[id] {
				open = append(open, id)
			}
		}
		changed := tr.changed
		tr.mu.Unlock()
		if len(open) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return open
		}
	}
}

// succeeded reports the turn's outcome: only a completed result is a success.
func (tr *transcript) succeeded() (bool, string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.resp == nil {
		return false, "no answer"
	}
	r := resultOf(tr.resp)
	if tr.resp.Error == nil && r != nil && r.Status == rpc.StatusCompleted {
		return true, r.Status
	}
	return false, describe(tr.resp)
}

// describe is a response in words: its status, or its error.
func describe(resp *rpc.Response) string {
	if resp.Error != nil {
		return printable(fmt.Sprintf("error %d: %s", resp.Error.Code, resp.Error.Message))
	}
	if r := resultOf(resp); r != nil {
		return printable(r.Status)
	}
	return "no result"
}

// resultOf is the response's result, or the result an error carries as
// its data (a failed, cancelled or timed-out turn); nil when there is none.
func resultOf(resp *rpc.Response) *conversation.Result {
	var raw []byte
	switch {
	case resp.Error != nil && resp.Error.Data != nil:
		raw, _ = json.Marshal(resp.Error.Data)
	case resp.Error == nil:
		raw, _ = resp.Result.(json.RawMessage)
	}
	var r conversation.Result
	if len(raw) == 0 || json.Unmarshal(raw, &r) != nil || r.Status == "" {
		return nil
	}
	return &r
}
