package reporter_test

import (
	"encoding/json"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
)

func TestItemEncoding(t *testing.T) {
	tests := map[string]struct {
		item reporter.Item
		want string
	}{
		"event kept unchanged": {
			item: reporter.Event(rpc.EventParams{MessageID: "m-1", WorkspaceID: "ws", ConversationID: "c", Seq: 3,
				Event: json.RawMessage(`{"type":"assistant","text":"<a> & b"}`)}),
			want: `{"jsonrpc":"2.0","method":"conversation.event","params":{"messageId":"m-1","workspaceId":"ws","conversationId":"c","seq":3,"event":{"type":"assistant","text":"<a> & b"}}}`,
		},
		"ids needing escapes": {
			item: reporter.State(rpc.StateParams{MessageID: "m\"1\n", WorkspaceID: "wé", ConversationID: "c\\", Seq: 1, State: rpc.StateQueued}),
			want: `{"jsonrpc":"2.0","method":"conversation.state","params":{"messageId":"m\"1\n","workspaceId":"wé","conversationId":"c\\","seq":1,"state":"queued"}}`,
		},
		"result": {
			item: reporter.Response(rpc.Result(json.RawMessage(`"req-1"`), map[string]int{"numTurns": 2})),
			want: `{"jsonrpc":"2.0","id":"req-1","result":{"numTurns":2}}`,
		},
		"error with a numeric id": {
			item: reporter.Response(rpc.Failure(json.RawMessage(`7`), rpc.Errorf(rpc.CodeTimeout, "turn timed out"))),
			want: `{"jsonrpc":"2.0","id":7,"error":{"code":-32004,"message":"turn timed out"}}`,
		},
		"neither result nor error": {
			item: reporter.Response(rpc.Response{ID: json.RawMessage(`"r"`)}),
			want: `{"jsonrpc":"2.0","id":"r","result":null}`,
		},
		"no id": {
			item: reporter.Response(rpc.Response{Error: rpc.Errorf(rpc.CodeParseError, "parse error")}),
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := tc.item.Err(); err != nil {
				t.Fatal(err)
			}
			got := string(tc.item.JSON())
			if got != tc.want && !jsonEqual(got, tc.want) {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid(tc.item.JSON()) {
				t.Fatalf("not valid JSON: %s", got)
			}
		})
	}
}

func TestItemEncodingErrors(t *testing.T) {
	tests := map[string]reporter.Item{
		"event not JSON":  reporter.Event(rpc.EventParams{MessageID: "m", Seq: 1, Event: json.RawMessage(`{"a":`)}),
		"empty event":     reporter.Event(rpc.EventParams{MessageID: "m", Seq: 1}),
		"bad response id": reporter.Response(rpc.Response{ID: json.RawMessage(`{`), Result: 1}),
		"zero item":       {},
	}
	for name, it := range tests {
		t.Run(name, func(t *testing.T) {
			if it.Err() == nil {
				t.Fatalf("no error for %s", it.JSON())
			}
		})
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
