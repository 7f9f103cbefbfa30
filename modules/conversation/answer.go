package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
	"go.uber.org/zap"
)

// answerRecord is a turn's decided end, kept in its record from before the
// first of it is sent until the turn is forgotten: the runner events still
// pending, the finished state and the response, each with its seq. A restart
// that finds it sends exactly these items again (the orchestrator drops the
// duplicates), so a message is never answered twice with different results.
type answerRecord struct {
	Notices     []noticeRecord  `json:"notices,omitempty"`
	FinishedSeq int64           `json:"finishedSeq"`
	Response    json.RawMessage `json:"response"` // the JSON-RPC response as sent
}

// decide turns the outcome into the turn's answer and records it (the
// persistence point after which nothing of the turn runs again).
func (m *Manager) decide(t *turnState, resp rpc.Response) error {
	raw, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode the turn's response: %w", err)
	}
	a := &answerRecord{Response: raw}
	seq := max(t.rec.Seq, t.rec.MaxSeq)
	for _, ev := range t.notices.take() {
		seq++
		a.Notices = append(a.Notices, noticeRecord{Seq: seq, Event: ev})
	}
	seq++
	a.FinishedSeq = seq
	t.rec.Seq, t.rec.MaxSeq, t.rec.StateSeq, t.rec.State, t.rec.Answer = seq, seq, seq, rpc.StateFinished, a
	if err := m.durably(m.ctx, "record the answer", t.rec.Turn.MessageID, func() error { return m.store.putTurn(t.rec) }); err != nil {
		return fmt.Errorf("record the turn's answer: %w", err)
	}
	crashpoint.Hit(crashpoint.AnswerRecorded)
	return nil
}

// answerItems are the items of a recorded answer, built the same way each time.
func answerItems(rec *turnRecord) ([]reporter.Item, error) {
	turn, a := rec.Turn, rec.Answer
	items := append(noticeItems(turn, a.Notices), reporter.State(rpc.StateParams{MessageID: turn.MessageID, WorkspaceID: turn.WorkspaceID,
		ConversationID: turn.ConversationID, Seq: a.FinishedSeq, State: rpc.StateFinished}))
	var wire struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int             `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.Response, &wire); err != nil {
		return nil, fmt.Errorf("decode the recorded response: %w", err)
	}
	resp := rpc.Response{JSONRPC: rpc.Version, ID: wire.ID}
	if wire.Error != nil {
		resp.Error = &rpc.Error{Code: wire.Error.Code, Message: wire.Error.Message}
		if len(wire.Error.Data) > 0 && string(wire.Error.Data) != "null" {
			resp.Error.Data = wire.Error.Data
		}
	} else {
		resp.Result = wire.Result
	}
	return append(items, reporter.Response(resp)), nil
}

// deliverAnswer sends a recorded answer, then removes what the turn leaves
// (its kept container, its prompt) and forgets it. Each step follows the
// record that makes it safe: a crash anywhere here repeats the sending (same
// items), never the turn. false: the answer is not durable yet; the record
// stays and the next start sends it.
func (m *Manager) deliverAnswer(rec *turnRecord) bool {
	msgID := rec.Turn.MessageID
	items, err := answerItems(rec)
	if err != nil {
		m.log.Error("cannot rebuild a recorded answer", zap.String("message_id", msgID), zap.Error(err))
		return false
	}
	if err := m.durably(m.ctx, "send the answer", msgID, func() error { return m.sink.Send(m.ctx, items...) }); err != nil {
		m.log.Error("cannot deliver the turn's answer; it stays recorded", zap.String("message_id", msgID), zap.Error(err))
		return false
	}
	crashpoint.Hit(crashpoint.AnswerSent)
	if rec.ContainerID != "" {
		ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
		err := m.sb.Remove(ctx, rec.ContainerID, msgID)
		cancel()
		if err != nil {
			m.log.Warn("cannot remove a finished turn's sandbox", zap.String("message_id", msgID),
				zap.String("container_id", rec.ContainerID), zap.Error(err))
		}
		crashpoint.Hit(crashpoint.ContainerRemoved)
	}
	m.removePrompt(msgID)
	if err := m.durably(m.ctx, "forget the answered turn", msgID, func() error { return m.store.forgetTurn(msgID) }); err != nil {
		m.log.Warn("cannot forget finished turn", zap.String("message_id", msgID), zap.Error(err))
	}
	return true
}
