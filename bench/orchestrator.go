package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// Orchestrator is a recording orchestrator for benchmarks: it accepts every
// batch with the right bearer token and keeps, per message, when its items
// arrived and whether their seqs were in order, and every response with its
// arrival time. It keeps no item bodies, so that a relay of hundreds of
// thousands of events costs it little CPU and memory (reporter/orchestratortest
// is the strict one, for tests).
type Orchestrator struct {
	// URL is the endpoint to give the runner.
	URL string

	srv   *httptest.Server
	token string

	mu        sync.Mutex
	changed   chan struct{}
	messages  map[string]*Message
	responses map[string]Response
	posts     int
	items     int
	bytes     int64
	beats     int
	problems  []string
}

// Message is what arrived of one message's notifications.
type Message struct {
	FirstEvent, LastEvent time.Time
	Events                int
	States                map[string]time.Time // first arrival of each state
	LastSeq               int64
	Duplicates            int // items whose seq was not above the last one (at-least-once repeats)
	Gaps                  int // items whose seq skipped ahead
}

// Response is a response to a request, with its arrival time.
type Response struct {
	At     time.Time
	Result json.RawMessage
	Error  *rpc.Error
}

// Status is the "status" of a conversation.send result ("" for an error).
func (r Response) Status() string {
	var res struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(r.Result, &res)
	return res.Status
}

// NewOrchestrator starts the server; Close stops it.
func NewOrchestrator(token string) *Orchestrator {
	o := &Orchestrator{token: token, changed: make(chan struct{}),
		messages: map[string]*Message{}, responses: map[string]Response{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	o.URL = o.srv.URL + "/rpc"
	return o
}

// Close stops the server.
func (o *Orchestrator) Close() { o.srv.Close() }

// item is the part of an outbound item the recorder reads; the event
// itself is skipped.
type item struct {
	Method string          `json:"method"`
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *rpc.Error      `json:"error"`
	Params struct {
		MessageID string `json:"messageId"`
		Seq       int64  `json:"seq"`
		State     string `json:"state"`
	} `json:"params"`
}

func (o *Orchestrator) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	now := time.Now()
	if err != nil {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+o.token {
		http.Error(w, `{"error":"invalid token"}`, http.StatusUnauthorized)
		return
	}
	var items []item
	if err := json.Unmarshal(body, &items); err != nil || len(items) == 0 {
		o.mu.Lock()
		o.problems = append(o.problems, fmt.Sprintf("post %d: not a batch: %v", o.posts, err))
		o.mu.Unlock()
		http.Error(w, "not a batch", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.posts++
	o.items += len(items)
	o.bytes += int64(len(body))
	for _, it := range items {
		o.record(it, now)
	}
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// record files one item. Call with o.mu held.
func (o *Orchestrator) record(it item, now time.Time) {
	switch it.Method {
	case "":
		var id string
		if json.Unmarshal(it.ID, &id) != nil {
			id = string(it.ID)
		}
		if _, dup := o.responses[id]; !dup {
			o.responses[id] = Response{At: now, Result: it.Result, Error: it.Error}
		}
		return
	case rpc.NotifyHeartbeat:
		o.beats++
		return
	case rpc.NotifyEvent, rpc.NotifyState:
	default:
		o.problems = append(o.problems, "unknown method "+it.Method)
		return
	}
	m := o.messages[it.Params.MessageID]
	if m == nil {
		m = &Message{States: map[string]time.Time{}}
		o.messages[it.Params.MessageID] = m
	}
	switch seq := it.Params.Seq; {
	case seq <= m.LastSeq:
		m.Duplicates++
		return
	case seq > m.LastSeq+1:
		m.Gaps++
	}
	m.LastSeq = it.Params.Seq
	if it.Method == rpc.NotifyState {
		if _, seen := m.States[it.Params.State]; !seen {
			m.States[it.Params.State] = now
		}
		return
	}
	if m.Events == 0 {
		m.FirstEvent = now
	}
	m.LastEvent = now
	m.Events++
}

// Message returns a copy of what arrived of a message.
func (o *Orchestrator) Message(id string) (Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.messages[id]
	if !ok {
		return Message{}, false
	}
	c := *m
	c.States = make(map[string]time.Time, len(m.States))
	for k, v := range m.States {
		c.States[k] = v
	}
	return c, true
}

// Response returns the response to request id, if it arrived.
func (o *Orchestrator) Response(id string) (Response, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.responses[id]
	return r, ok
}

// Totals are the orchestrator's counters.
type Totals struct {
	Posts, Items, Heartbeats int
	Bytes                    int64
	Problems                 []string
}

// Totals returns the counters so far.
func (o *Orchestrator) Totals() Totals {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Totals{Posts: o.posts, Items: o.items, Heartbeats: o.beats, Bytes: o.bytes, Problems: append([]string(nil), o.problems...)}
}

// Wait waits until cond holds (it is called with nothing locked) or ctx ends.
func (o *Orchestrator) Wait(ctx context.Context, cond func() bool) error {
	for {
		o.mu.Lock()
		ch := o.changed
		o.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitResponse waits for the response to request id.
func (o *Orchestrator) WaitResponse(ctx context.Context, id string) (Response, error) {
	var r Response
	err := o.Wait(ctx, func() bool {
		var ok bool
		r, ok = o.Response(id)
		return ok
	})
	if err != nil {
		return r, fmt.Errorf("no response to %s: %w", id, err)
	}
	return r, nil
}
