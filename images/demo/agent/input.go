package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// runStreamInput serves --input-format stream-json: one JSON message per
// stdin line, turns run in order, control requests answered at once, and
// stdin EOF ends the process after the queued turns.
func (a *agent) runStreamInput() int {
	queue := make(chan string, 4096)
	go a.readInput(os.Stdin, queue)
	lastError := false
	for prompt := range queue {
		lastError = a.runTurn(a.turnContext(), prompt, len(queue))
	}
	a.out.exit(boolCode(lastError))
	return 0
}

func boolCode(isError bool) int {
	if isError {
		return 1
	}
	return 0
}

func (a *agent) readInput(r io.Reader, queue chan<- string) {
	defer close(queue)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if s := strings.TrimSpace(string(line)); s != "" {
			a.handleInput([]byte(s), queue)
		}
		if err != nil {
			return
		}
	}
}

type inputMessage struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
	Request   struct {
		Subtype string `json:"subtype"`
	} `json:"request"`
	Message struct {
		Content json.RawMessage `json:"content"`
	} `json:"message"`
}

func (a *agent) handleInput(line []byte, queue chan<- string) {
	var m inputMessage
	if err := json.Unmarshal(line, &m); err != nil {
		fmt.Fprintf(os.Stderr, "Error parsing streaming input line (type=unknown, %d chars): SyntaxError: %v\n", len(line), err)
		a.out.exit(1)
	}
	switch m.Type {
	case "user":
		prompt := messageText(m.Message.Content)
		if a.opts.replayUser {
			var echo obj
			if json.Unmarshal(line, &echo) == nil {
				echo["isReplay"], echo["session_id"], echo["uuid"] = true, a.sess.id, newUUID()
				a.out.line(echo)
			}
		}
		queue <- prompt
	case "control_request":
		var resp obj
		switch m.Request.Subtype {
		case "interrupt":
			resp = obj{"still_queued": []any{}}
			defer a.interrupt()
		case "initialize":
			resp = a.initializeResponse()
		default:
			resp = obj{}
		}
		a.out.line(obj{"type": "control_response", "response": obj{"subtype": "success", "request_id": m.RequestID, "response": resp}})
	}
}

// messageText flattens a user message's content (a string or content blocks).
func messageText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		if b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func (a *agent) initializeResponse() obj {
	return obj{
		"commands": []any{}, "agents": []obj{{"name": "general-purpose"}},
		"models":  []obj{{"value": "default", "displayName": "Default", "description": a.model}},
		"account": obj{"apiKeySource": apiKeySource(), "apiProvider": "firstParty"},
		"pid":     os.Getpid(), "claude_code_version": Version, "current_permission_mode": a.opts.mode(),
		"session_state": "idle", "output_style": "default",
	}
}
