package rpc

import (
	"encoding/json"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := map[string]struct {
		payload string
		code    int    // 0 = valid
		id      string // the id the answer goes to ("" = null)
	}{
		"valid":                {`{"jsonrpc":"2.0","id":"r1","method":"runner.ping","params":{}}`, 0, `"r1"`},
		"numeric id":           {`{"jsonrpc":"2.0","id":7,"method":"runner.ping"}`, 0, `7`},
		"params null":          {`{"jsonrpc":"2.0","id":1,"method":"m","params":null}`, 0, `1`},
		"not JSON":             {`{"jsonrpc":`, CodeParseError, ""},
		"empty":                {``, CodeParseError, ""},
		"array":                {`[1,2]`, CodeInvalidRequest, ""},
		"string":               {`"hello"`, CodeInvalidRequest, ""},
		"no jsonrpc":           {`{"id":"r2","method":"m"}`, CodeInvalidRequest, `"r2"`},
		"jsonrpc 1.0":          {`{"jsonrpc":"1.0","id":"r3","method":"m"}`, CodeInvalidRequest, `"r3"`},
		"no id (notification)": {`{"jsonrpc":"2.0","method":"m"}`, CodeInvalidRequest, ""},
		"id object":            {`{"jsonrpc":"2.0","id":{"a":1},"method":"m"}`, CodeInvalidRequest, ""},
		"id null":              {`{"jsonrpc":"2.0","id":null,"method":"m"}`, CodeInvalidRequest, ""},
		"no method":            {`{"jsonrpc":"2.0","id":"r4"}`, CodeInvalidRequest, `"r4"`},
		"method number":        {`{"jsonrpc":"2.0","id":"r5","method":5}`, CodeInvalidRequest, `"r5"`},
		"params string":        {`{"jsonrpc":"2.0","id":"r6","method":"m","params":"x"}`, CodeInvalidRequest, `"r6"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := ParseRequest([]byte(tc.payload))
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("valid request refused: %v", err)
			case tc.code != 0 && (err == nil || err.Code != tc.code):
				t.Fatalf("error %v, want code %d", err, tc.code)
			}
			// The answer goes to the request's id, or to null when none could be read.
			resp, _ := json.Marshal(Failure(req.ID, Errorf(CodeInvalidRequest, "x")))
			var back struct {
				ID json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(resp, &back); err != nil {
				t.Fatal(err)
			}
			want := tc.id
			if want == "" {
				want = "null"
			}
			if string(back.ID) != want {
				t.Errorf("answer id %s, want %s", back.ID, want)
			}
		})
	}
}
