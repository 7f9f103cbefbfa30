// Package modeltest is a fake of the Anthropic Messages API for tests: it
// answers POST /v1/messages like the real API, streamed (SSE with the usage
// in message_start and message_delta, cache tokens included) or not (a JSON
// message with its usage), and records what it served, so a test can check
// the relay's count against it. The model named in the request decides the
// answer:
//
//   - "refuse-…": 529 overloaded_error (a refused request, no usage);
//   - "cut-…": the stream starts (a ping) and the connection is cut;
//   - any other: a message whose usage is Tokens(model).
package modeltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Usage is what the fake served of one model.
type Usage struct {
	Input, Output, CacheCreation, CacheRead int64
	Requests                                int64
}

// Spent is what a budget counts: input, output and cache creation.
func (u Usage) Spent() int64 { return u.Input + u.Output + u.CacheCreation }

// Tokens is the usage of one answer of model: fixed per model, different
// between models (the length of the name shifts it).
func Tokens(model string) Usage {
	n := int64(len(model))
	return Usage{Input: 100 + n, Output: 50 + n, CacheCreation: 20, CacheRead: 300 + n}
}

// Server is the fake API.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests int64
	served   map[string]Usage
}

// New starts the fake; it is closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{served: map[string]Usage{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Served is the number of Messages requests and what each model was served.
func (s *Server) Served() (int64, map[string]Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Usage, len(s.served))
	for k, v := range s.served {
		out[k] = v
	}
	return s.requests, out
}

func (s *Server) count(model string, u Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	got := s.served[model]
	got.Requests++
	got.Input += u.Input
	got.Output += u.Output
	got.CacheCreation += u.CacheCreation
	got.CacheRead += u.CacheRead
	s.served[model] = got
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		http.Error(w, `{"type":"error","error":{"type":"not_found_error","message":"fake: only /v1/messages"}}`, http.StatusNotFound)
		return
	}
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"model: field required"}}`)
		return
	}
	switch {
	case strings.HasPrefix(req.Model, "refuse-"):
		s.count(req.Model, Usage{})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(529)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
		return
	case strings.HasPrefix(req.Model, "cut-"):
		s.count(req.Model, Usage{})
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: ping\ndata: {\"type\": \"ping\"}\n\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection is cut
	}
	u := Tokens(req.Model)
	s.count(req.Model, u)
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"msg_fake","type":"message","role":"assistant","model":%q,"content":[{"type":"text","text":"hi"}],`+
			`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,`+
			`"cache_read_input_tokens":%d,"output_tokens":%d,"service_tier":"standard"}}`, req.Model, u.Input, u.CacheCreation, u.CacheRead, u.Output)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	events := []string{
		fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant","model":%q,"content":[],`+
			`"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,`+
			`"cache_read_input_tokens":%d,"output_tokens":1,"service_tier":"standard"}}}`, req.Model, u.Input, u.CacheCreation, u.CacheRead),
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type": "ping"}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}`,
		`{"type":"content_block_stop","index":0}`,
		fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, u.Output/2),
		fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, u.Output),
		`{"type":"message_stop"}`,
	}
	for _, ev := range events {
		var head struct{ Type string }
		_ = json.Unmarshal([]byte(ev), &head)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", head.Type, ev)
		w.(http.Flusher).Flush()
	}
}
