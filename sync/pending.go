package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// bucketPending holds every journaled message that is not settled yet: a
// request handed to the Handler that has not said Settled, or the answer to
// an invalid row that is not durable in the Responder yet. It is written in
// the journal's commit transaction, so a crash after the commit cannot lose
// a message the journal says was taken: the next Start hands it over again.
var bucketPending = []byte("pending")

// pendingEntry is one unsettled message: a request to dispatch or an answer
// to send. At and N keep the order of arrival.
type pendingEntry struct {
	At      int64           `json:"at"`
	N       int             `json:"n"`
	Message *Message        `json:"message,omitempty"`
	Answer  json.RawMessage `json:"answer,omitempty"`
}

// putPending stores the pending entry of a fresh record. Caller's transaction.
func putPending(tx *bolt.Tx, id string, e *pendingEntry, at int64, n int) error {
	e.At, e.N = at, n
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode pending message %s: %w", id, err)
	}
	return tx.Bucket(bucketPending).Put([]byte(id), v)
}

// settle forgets a pending message: it was answered or taken over durably.
func (j *journal) settle(id string) error {
	return j.writes.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPending).Delete([]byte(id)) })
}

// decide replaces a pending message by the answer the handler is about to
// send, keeping its place in the order.
func (j *journal) decide(id string, answer json.RawMessage) error {
	return j.writes.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPending)
		e := pendingEntry{At: time.Now().UnixNano()}
		if v := b.Get([]byte(id)); v != nil {
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("pending message %q: %w", id, err)
			}
		}
		e.Message, e.Answer = nil, answer
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	})
}

// decider returns the Decided hook of a message: it records the answer and
// returns it as it will be sent again after a crash.
func (i *Intake) decider(j *journal, id string) func(rpc.Response) (rpc.Response, error) {
	return func(resp rpc.Response) (rpc.Response, error) {
		raw, err := encodeAnswer(id, resp)
		if err != nil {
			return resp, err
		}
		canonical, _, err := decodeAnswer(raw)
		if err != nil {
			return resp, err
		}
		return canonical, j.decide(id, raw)
	}
}

// hooks binds a dispatched message to the journal.
func (i *Intake) hooks(j *journal, m *Message) {
	m.settle, m.decide = i.settler(j, m.ID), i.decider(j, m.ID)
}

// pending returns the unsettled messages in arrival order.
func (j *journal) pending() ([]pendingEntry, error) {
	var out []pendingEntry
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			var e pendingEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("pending message %q: %w", k, err)
			}
			out = append(out, e)
			return nil
		})
	})
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].At != out[b].At {
			return out[a].At < out[b].At
		}
		return out[a].N < out[b].N
	})
	return out, err
}

// settler returns the Settled hook of a message: it forgets the pending entry.
func (i *Intake) settler(j *journal, id string) func() {
	return func() {
		if err := j.settle(id); err != nil {
			i.log.Warn("cannot settle a pending message; a restart hands it over again", zap.String("message_id", id), zap.Error(err))
		}
	}
}

// redeliver hands over again, in order, what an earlier run journaled and
// did not settle (it crashed in between): each once more, never lost.
func (i *Intake) redeliver(ctx context.Context, j *journal, entries []pendingEntry) {
	for _, e := range entries {
		switch {
		case e.Message != nil:
			m := *e.Message
			i.hooks(j, &m)
			i.log.Info("handing over a message journaled before a restart", zap.String("message_id", m.ID), zap.String("method", m.Request.Method))
			i.m.dispatched.Inc()
			i.handler.Dispatch(ctx, m)
		case len(e.Answer) > 0:
			resp, id, err := decodeAnswer(e.Answer)
			if err != nil {
				i.log.Error("pending answer unreadable; dropped", zap.Error(err))
				continue
			}
			i.respond(ctx, j, id, resp)
		}
	}
}

// respond sends the answer to an invalid row and settles it once durable.
func (i *Intake) respond(ctx context.Context, j *journal, id string, resp rpc.Response) {
	if i.responder == nil {
		i.log.Warn("pending answer; no responder to send it", zap.String("message_id", id))
		return
	}
	if err := i.responder.Respond(ctx, resp); err != nil {
		i.log.Error("answer to an invalid request row failed", zap.String("message_id", id), zap.Error(err))
		return
	}
	i.settler(j, id)()
}

// pendingAnswer is how an invalid row's answer is kept: the response and the
// row's id.
type pendingAnswer struct {
	ID       string `json:"id"`
	Response struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int             `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data,omitempty"`
		} `json:"error"`
	} `json:"response"`
}

func encodeAnswer(id string, resp rpc.Response) (json.RawMessage, error) {
	return json.Marshal(struct {
		ID       string       `json:"id"`
		Response rpc.Response `json:"response"`
	}{id, resp})
}

// decodeAnswer rebuilds a kept answer; the same bytes each time it is sent.
func decodeAnswer(raw json.RawMessage) (rpc.Response, string, error) {
	var a pendingAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return rpc.Response{}, "", err
	}
	resp := rpc.Response{JSONRPC: rpc.Version, ID: a.Response.ID}
	if e := a.Response.Error; e != nil {
		resp.Error = &rpc.Error{Code: e.Code, Message: e.Message}
		if len(e.Data) > 0 {
			resp.Error.Data = e.Data
		}
	} else if len(a.Response.Result) > 0 {
		resp.Result = a.Response.Result
	}
	return resp, a.ID, nil
}
