package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Request is one inbound JSON-RPC request.
type Request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// Error is a JSON-RPC error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message) }

// Errorf builds an Error with a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Response answers one request. ID is JSON null when the request's id could not be read.
type Response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Result builds a success response.
func Result(id json.RawMessage, result any) Response {
	return Response{JSONRPC: Version, ID: nullIfEmpty(id), Result: result}
}

// Failure builds an error response.
func Failure(id json.RawMessage, err *Error) Response {
	return Response{JSONRPC: Version, ID: nullIfEmpty(id), Error: err}
}

// Notification is an outbound JSON-RPC notification (no id).
type Notification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

// EventParams are the params of conversation.event: one line the agent printed.
type EventParams struct {
	MessageID      string          `json:"messageId"`
	WorkspaceID    string          `json:"workspaceId"`
	ConversationID string          `json:"conversationId"`
	Seq            int64           `json:"seq"`
	Event          json.RawMessage `json:"event"`
}

// StateParams are the params of conversation.state.
type StateParams struct {
	MessageID      string `json:"messageId"`
	WorkspaceID    string `json:"workspaceId"`
	ConversationID string `json:"conversationId"`
	Seq            int64  `json:"seq"`
	State          string `json:"state"`
	// Reason says why a queued turn waits (free disk below --min-free-disk).
	Reason string `json:"reason,omitempty"`
}

// RunnerStatus is the result of runner.ping and the params of runner.heartbeat.
type RunnerStatus struct {
	RunnerID string `json:"runnerId"`
	Version  string `json:"version"`
	Active   int    `json:"active"`
	Queued   int    `json:"queued"`
	Capacity int    `json:"capacity"`
	// Tokens is the running turns' model use so far, as the relay counted it.
	Tokens *TokenCounts `json:"tokens,omitempty"`
}

// PingResult is the result of runner.ping: the status and the measured disk
// use of the workspaces that ran since start.
type PingResult struct {
	RunnerStatus
	Disk []WorkspaceDisk `json:"disk,omitempty"`
}

// WorkspaceDisk is one workspace's disk use in runner.ping: bytes used (checkout
// and state), its limit, and who enforces it (btrfs-qgroup, project-quota, runner).
type WorkspaceDisk struct {
	WorkspaceID string `json:"workspaceId"`
	Used        int64  `json:"used"`
	Limit       int64  `json:"limit"`
	Mode        string `json:"mode"`
}

var null = json.RawMessage("null")

func nullIfEmpty(id json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(id)) == 0 {
		return null
	}
	return id
}

// ParseRequest reads a payload as one JSON-RPC 2.0 request. It returns the
// request's id whenever one could be read, so that even an invalid request is
// answered to the right id, and a -32700 or -32600 error when the payload is
// not JSON or not a request. A request must have an id: every message is answered.
func ParseRequest(payload []byte) (Request, *Error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		if !json.Valid(payload) {
			return Request{}, Errorf(CodeParseError, "parse error: payload is not valid JSON")
		}
		return Request{}, Errorf(CodeInvalidRequest, "invalid request: payload is not a JSON object")
	}
	var req Request
	if id, ok := raw["id"]; ok && validID(id) {
		req.ID = id
	}
	if err := json.Unmarshal(raw["jsonrpc"], &req.JSONRPC); err != nil || req.JSONRPC != Version {
		return req, Errorf(CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
	}
	if req.ID == nil {
		return req, Errorf(CodeInvalidRequest, `invalid request: "id" must be a string or a number`)
	}
	if err := json.Unmarshal(raw["method"], &req.Method); err != nil || req.Method == "" {
		return req, Errorf(CodeInvalidRequest, `invalid request: "method" must be a non-empty string`)
	}
	if p, ok := raw["params"]; ok && !bytes.Equal(bytes.TrimSpace(p), null) {
		trimmed := bytes.TrimSpace(p)
		if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
			return req, Errorf(CodeInvalidRequest, `invalid request: "params" must be an object or an array`)
		}
		req.Params = p
	}
	return req, nil
}

// validID accepts the ids JSON-RPC allows for a request we answer: a string or a number.
func validID(id json.RawMessage) bool {
	var v any
	if err := json.Unmarshal(id, &v); err != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}
