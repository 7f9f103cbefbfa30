package orchestratortest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// Request is one POST the orchestrator received, with the reply it got.
type Request struct {
	Index    int
	Header   http.Header
	Body     []byte
	Items    []Item // decoded; nil when the body broke the contract
	Reply    Reply
	Accepted bool // answered 2xx: its items count as delivered
}

// Item is one JSON-RPC object of a batch, decoded. Exactly one of Event,
// State, Heartbeat is set for a notification; ID and Result or Error for a
// response.
type Item struct {
	Raw     json.RawMessage
	Request int // index of the request that carried it

	Method    string
	Event     *rpc.EventParams
	State     *rpc.StateParams
	Heartbeat *rpc.RunnerStatus

	ID     json.RawMessage // responses
	Result json.RawMessage // responses: the result, as sent
	Error  *rpc.Error      // responses: the error
}

// IsResponse reports whether the item is a response to a request.
func (it Item) IsResponse() bool { return it.Method == "" }

// Key is the item's unique key: "<messageId>#<seq>" for events and states,
// "response <id>" for responses, "" for heartbeats.
func (it Item) Key() string {
	switch {
	case it.Event != nil:
		return fmt.Sprintf("%s#%d", it.Event.MessageID, it.Event.Seq)
	case it.State != nil:
		return fmt.Sprintf("%s#%d", it.State.MessageID, it.State.Seq)
	case it.IsResponse():
		return "response " + string(it.ID)
	}
	return ""
}

// MessageID is the message of an event or a state, "" otherwise.
func (it Item) MessageID() string {
	switch {
	case it.Event != nil:
		return it.Event.MessageID
	case it.State != nil:
		return it.State.MessageID
	}
	return ""
}

// Seq is the seq of an event or a state, 0 otherwise.
func (it Item) Seq() int64 {
	switch {
	case it.Event != nil:
		return it.Event.Seq
	case it.State != nil:
		return it.State.Seq
	}
	return 0
}

// decodeBatch reads a body as a JSON-RPC batch of the runner's outbound items.
func decodeBatch(body []byte, request int) ([]Item, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, fmt.Errorf("body is not a JSON array: %v", err)
	}
	if len(raws) == 0 {
		return nil, errors.New("empty batch")
	}
	items := make([]Item, 0, len(raws))
	for i, raw := range raws {
		it, err := decodeItem(raw)
		if err != nil {
			return nil, fmt.Errorf("item %d: %v", i, err)
		}
		it.Request = request
		items = append(items, it)
	}
	return items, nil
}

func decodeItem(raw json.RawMessage) (Item, error) {
	it := Item{Raw: raw}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return it, fmt.Errorf("not a JSON object: %v", err)
	}
	if string(env["jsonrpc"]) != `"2.0"` {
		return it, fmt.Errorf(`"jsonrpc" is %s, want "2.0"`, env["jsonrpc"])
	}
	if m, ok := env["method"]; ok {
		if err := json.Unmarshal(m, &it.Method); err != nil {
			return it, fmt.Errorf(`"method" is not a string: %s`, m)
		}
		if _, ok := env["id"]; ok {
			return it, fmt.Errorf("notification %s has an id", it.Method)
		}
		return it, decodeParams(&it, env["params"])
	}
	id, ok := env["id"]
	if !ok {
		return it, errors.New("neither a notification nor a response")
	}
	it.ID = compact(id)
	res, hasResult := env["result"]
	errObj, hasError := env["error"]
	if hasResult == hasError {
		return it, fmt.Errorf("response %s must have exactly one of result and error", id)
	}
	if hasResult {
		it.Result = res
		return it, nil
	}
	it.Error = new(rpc.Error)
	if err := strict(errObj, it.Error); err != nil || it.Error.Message == "" {
		return it, fmt.Errorf("response %s: bad error object %s", id, errObj)
	}
	return it, nil
}

func decodeParams(it *Item, params json.RawMessage) error {
	switch it.Method {
	case rpc.NotifyEvent:
		it.Event = new(rpc.EventParams)
		if err := strict(params, it.Event); err != nil {
			return fmt.Errorf("%s params: %v", it.Method, err)
		}
		if it.Event.MessageID == "" || it.Event.Seq < 1 || len(it.Event.Event) == 0 {
			return fmt.Errorf("%s needs messageId, seq >= 1 and event: %s", it.Method, params)
		}
	case rpc.NotifyState:
		it.State = new(rpc.StateParams)
		if err := strict(params, it.State); err != nil {
			return fmt.Errorf("%s params: %v", it.Method, err)
		}
		switch it.State.State {
		case rpc.StateQueued, rpc.StatePreparing, rpc.StateRunning, rpc.StateFinished:
		default:
			return fmt.Errorf("%s: unknown state %q", it.Method, it.State.State)
		}
		if it.State.MessageID == "" || it.State.Seq < 1 {
			return fmt.Errorf("%s needs messageId and seq >= 1: %s", it.Method, params)
		}
	case rpc.NotifyHeartbeat:
		it.Heartbeat = new(rpc.RunnerStatus)
		if err := strict(params, it.Heartbeat); err != nil {
			return fmt.Errorf("%s params: %v", it.Method, err)
		}
		if it.Heartbeat.RunnerID == "" {
			return fmt.Errorf("%s without runnerId: %s", it.Method, params)
		}
	default:
		return fmt.Errorf("unknown notification %q", it.Method)
	}
	return nil
}

// strict decodes an object refusing unknown fields, so that drift from the
// contract's names shows.
func strict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
