package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	stdsync "sync"

	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
)

// transcript is the sink of `exec`: it prints what the agent does (or, with
// --json, each stream-json line as is) and keeps the turn's response.
type transcript struct {
	out  io.Writer
	raw  bool
	mu   stdsync.Mutex
	resp *rpc.Response
	done chan struct{}
}

func newTranscript(out io.Writer, raw bool) *transcript {
	return &transcript{out: out, raw: raw, done: make(chan struct{})}
}

// wire is an outbound item as the orchestrator would receive it.
type wire struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *rpc.Error      `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// Send prints the items; it is conversation.Sink.
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
			if tr.raw {
				fmt.Fprintf(tr.out, "%s\n", p.Event)
			} else {
				tr.printEvent(p.Event)
			}
		case rpc.NotifyState:
		case "":
			resp := rpc.Response{ID: w.ID, Error: w.Error}
			if w.Result != nil {
				resp.Result = w.Result
			}
			tr.resp = &resp
			close(tr.done)
		}
	}
	return nil
}

// succeeded reports the turn's outcome: only a completed result is a success.
func (tr *transcript) succeeded() (bool, string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.resp == nil {
		return false, "no answer"
	}
	if tr.resp.Error != nil {
		return false, fmt.Sprintf("error %d: %s", tr.resp.Error.Code, tr.resp.Error.Message)
	}
	var r conversation.Result
	raw, _ := tr.resp.Result.(json.RawMessage)
	if err := json.Unmarshal(raw, &r); err != nil {
		return false, err.Error()
	}
	return r.Status == rpc.StatusCompleted, r.Status
}

func (tr *transcript) printEvent(ev json.RawMessage) {
	var e struct {
		Type      string `json:"type"`
		Subtype   string `json:"subtype"`
		SessionID string `json:"session_id"`
		Model     string `json:"model"`
		Message   struct {
			Content []struct {
				Type    string          `json:"type"`
				Text    string          `json:"text"`
				Name    string          `json:"name"`
				Input   json.RawMessage `json:"input"`
				Content json.RawMessage `json:"content"`
				IsError bool            `json:"is_error"`
			} `json:"content"`
		} `json:"message"`
		IsError  bool     `json:"is_error"`
		Result   string   `json:"result"`
		Errors   []string `json:"errors"`
		NumTurns int      `json:"num_turns"`
		Duration int64    `json:"duration_ms"`
		Cost     float64  `json:"total_cost_usd"`
		Text     string   `json:"text"`
	}
	if json.Unmarshal(ev, &e) != nil {
		return
	}
	switch e.Type {
	case "system":
		if e.Subtype == "init" {
			fmt.Fprintf(tr.out, "● session %s · model %s\n", e.SessionID, e.Model)
		}
	case "assistant", "user":
		for _, c := range e.Message.Content {
			switch c.Type {
			case "text":
				fmt.Fprintf(tr.out, "%s\n", strings.TrimSpace(c.Text))
			case "tool_use":
				fmt.Fprintf(tr.out, "→ %s %s\n", c.Name, clip(string(c.Input), 200))
			case "tool_result":
				var s string
				if json.Unmarshal(c.Content, &s) != nil {
					s = string(c.Content)
				}
				mark := "←"
				if c.IsError {
					mark = "← (error)"
				}
				fmt.Fprintf(tr.out, "  %s %s\n", mark, clip(s, 300))
			}
		}
	case "result":
		mark := "✔ completed"
		if e.IsError {
			mark = "✘ failed: " + strings.Join(e.Errors, "; ")
		}
		fmt.Fprintf(tr.out, "%s · %d turn(s) · %.1fs · $%.4f\n", mark, e.NumTurns, float64(e.Duration)/1000, e.Cost)
	case "runner":
		fmt.Fprintf(tr.out, "! output line not relayed as JSON (%s): %s\n", e.Subtype, clip(e.Text, 200))
	}
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
