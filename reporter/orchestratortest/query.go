package orchestratortest

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// Requests is every POST received so far, in order, with its reply.
func (o *Orchestrator) Requests() []Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Request(nil), o.requests...)
}

// Items is every item of the accepted batches, in the order received,
// duplicates included.
func (o *Orchestrator) Items() []Item {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Item(nil), o.items...)
}

// Violations are the runner's breaches of the contract seen so far.
func (o *Orchestrator) Violations() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.violations...)
}

// Message is the accepted events and states of one message, in the order
// received, without duplicates.
func (o *Orchestrator) Message(messageID string) []Item {
	return MessageOf(o.Items(), messageID)
}

// Events is the accepted conversation.event params of one message, in the
// order received, without duplicates.
func (o *Orchestrator) Events(messageID string) []rpc.EventParams {
	var out []rpc.EventParams
	for _, it := range o.Message(messageID) {
		if it.Event != nil {
			out = append(out, *it.Event)
		}
	}
	return out
}

// Response is the first accepted response to id (a JSON-RPC id as sent:
// `"req-1"` or `7`; a bare string such as req-1 is taken as a JSON string).
func (o *Orchestrator) Response(id string) (Item, bool) {
	return ResponseOf(o.Items(), id)
}

// Heartbeats is every accepted runner.heartbeat, in order.
func (o *Orchestrator) Heartbeats() []rpc.RunnerStatus {
	var out []rpc.RunnerStatus
	for _, it := range o.Items() {
		if it.Heartbeat != nil {
			out = append(out, *it.Heartbeat)
		}
	}
	return out
}

// Duplicates lists the keys (Item.Key) accepted more than once, sorted.
// Delivery is at least once, so a retry after a lost answer may cause some.
func (o *Orchestrator) Duplicates() []string {
	return DuplicatesOf(o.Items())
}

// OrderProblems checks, per message, that the first arrivals of its events
// and states count seq 1, 2, 3, ... with no gap and nothing out of order.
func (o *Orchestrator) OrderProblems() []string {
	return OrderProblemsOf(o.Items())
}

// ResponseFollowsEvents checks that the response to id arrived after every
// event and state of messageID that arrived at all.
func (o *Orchestrator) ResponseFollowsEvents(id, messageID string) error {
	items := o.Items()
	resp, lastEvent := -1, -1
	want := normalizeID(id)
	for i, it := range items {
		switch {
		case it.IsResponse() && string(it.ID) == want && resp < 0:
			resp = i
		case it.MessageID() == messageID:
			lastEvent = i
		}
	}
	if resp < 0 {
		return fmt.Errorf("no response to %s", want)
	}
	if lastEvent > resp {
		return fmt.Errorf("response to %s arrived at item %d, before item %d of message %s", want, resp, lastEvent, messageID)
	}
	return nil
}

// MessageOf is Message on a list of items (e.g. inside WaitFor).
func MessageOf(items []Item, messageID string) []Item {
	seen := map[int64]bool{}
	var out []Item
	for _, it := range items {
		if it.MessageID() == messageID && !seen[it.Seq()] {
			seen[it.Seq()] = true
			out = append(out, it)
		}
	}
	return out
}

// ResponseOf is Response on a list of items.
func ResponseOf(items []Item, id string) (Item, bool) {
	want := normalizeID(id)
	for _, it := range items {
		if it.IsResponse() && string(it.ID) == want {
			return it, true
		}
	}
	return Item{}, false
}

// DuplicatesOf is Duplicates on a list of items.
func DuplicatesOf(items []Item) []string {
	count := map[string]int{}
	for _, it := range items {
		if k := it.Key(); k != "" {
			count[k]++
		}
	}
	var out []string
	for k, n := range count {
		if n > 1 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// OrderProblemsOf is OrderProblems on a list of items.
func OrderProblemsOf(items []Item) []string {
	last := map[string]int64{}
	var out []string
	for i, it := range items {
		m := it.MessageID()
		if m == "" {
			continue
		}
		seq := it.Seq()
		switch {
		case seq <= last[m]: // a duplicate of something already seen
		case seq == last[m]+1:
			last[m] = seq
		default:
			out = append(out, fmt.Sprintf("item %d: message %s seq %d after seq %d", i, m, seq, last[m]))
			last[m] = seq
		}
	}
	return out
}

// normalizeID turns a test's id into the compact JSON the items carry.
func normalizeID(id string) string {
	if json.Valid([]byte(id)) {
		return string(compact(json.RawMessage(id)))
	}
	b, _ := json.Marshal(id)
	return string(b)
}
