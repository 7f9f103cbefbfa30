package reporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// Item is one JSON-RPC object on its way to the orchestrator, encoded once
// when it is built. Build items with Event, State and Response.
type Item struct {
	buf []byte // the JSON object
	err error
}

// JSON is the item as it is sent, or nil when it could not be encoded.
func (it Item) JSON() []byte {
	if it.err != nil {
		return nil
	}
	return it.buf
}

// Err is why the item could not be encoded; Send refuses such an item.
func (it Item) Err() error {
	if it.err == nil && len(it.buf) == 0 {
		return errors.New("empty item: build items with Event, State or Response")
	}
	return it.err
}

var (
	eventPrefix = []byte(`{"jsonrpc":"2.0","method":"` + rpc.NotifyEvent + `","params":{"messageId":`)
	statePrefix = []byte(`{"jsonrpc":"2.0","method":"` + rpc.NotifyState + `","params":{"messageId":`)
)

// Event is a conversation.event notification: one line the agent printed,
// carried unchanged (it must be one JSON value).
func Event(p rpc.EventParams) Item {
	if !validJSON(p.Event) {
		return Item{err: fmt.Errorf("event of message %s seq %d is not valid JSON", p.MessageID, p.Seq)}
	}
	n := len(eventPrefix) + len(p.MessageID) + len(p.WorkspaceID) + len(p.ConversationID) + len(p.Event) + 96
	b := make([]byte, 0, n)
	b = append(b, eventPrefix...)
	b = appendIDs(b, p.MessageID, p.WorkspaceID, p.ConversationID, p.Seq)
	b = append(b, `,"event":`...)
	b = append(b, p.Event...)
	b = append(b, "}}"...)
	return Item{buf: b}
}

// State is a conversation.state notification.
func State(p rpc.StateParams) Item {
	n := len(statePrefix) + len(p.MessageID) + len(p.WorkspaceID) + len(p.ConversationID) + len(p.State) + len(p.Reason) + 112
	b := make([]byte, 0, n)
	b = append(b, statePrefix...)
	b = appendIDs(b, p.MessageID, p.WorkspaceID, p.ConversationID, p.Seq)
	b = append(b, `,"state":`...)
	b = appendString(b, p.State)
	if p.Reason != "" { // why a queued turn waits
		b = append(b, `,"reason":`...)
		b = appendString(b, p.Reason)
	}
	b = append(b, "}}"...)
	return Item{buf: b}
}

// Response is a response to an inbound request. An empty jsonrpc is filled
// in, an empty id becomes null, and a response with neither result nor error
// carries "result":null so that it stays a valid JSON-RPC response.
func Response(resp rpc.Response) Item {
	if resp.JSONRPC == "" {
		resp.JSONRPC = rpc.Version
	}
	if len(bytes.TrimSpace(resp.ID)) == 0 {
		resp.ID = json.RawMessage("null")
	}
	var body []byte
	var err error
	if resp.Result == nil && resp.Error == nil {
		body, err = json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  json.RawMessage `json:"result"`
		}{resp.JSONRPC, resp.ID, json.RawMessage("null")})
	} else {
		body, err = json.Marshal(resp)
	}
	if err != nil {
		return Item{err: fmt.Errorf("encode response %s: %w", resp.ID, err)}
	}
	return Item{buf: body}
}

// heartbeat is a runner.heartbeat notification.
func heartbeat(st rpc.RunnerStatus) Item {
	body, err := json.Marshal(rpc.Notification{JSONRPC: rpc.Version, Method: rpc.NotifyHeartbeat, Params: st})
	if err != nil {
		return Item{err: fmt.Errorf("encode heartbeat: %w", err)}
	}
	return Item{buf: body}
}

func appendIDs(b []byte, messageID, workspaceID, conversationID string, seq int64) []byte {
	b = appendString(b, messageID)
	b = append(b, `,"workspaceId":`...)
	b = appendString(b, workspaceID)
	b = append(b, `,"conversationId":`...)
	b = appendString(b, conversationID)
	b = append(b, `,"seq":`...)
	return strconv.AppendInt(b, seq, 10)
}

// appendString appends s as a JSON string. Plain ASCII (ids, state names) is
// copied as is; anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
