package conversation

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

// noSandboxes is an engine with no container left: what recover sees after a
// restart whose sandboxes are gone.
type noSandboxes struct{ sandboxes }

func (noSandboxes) Leftovers() []sandbox.Leftover { return nil }

type itemSink struct {
	mu    sync.Mutex
	items []reporter.Item
}

func (s *itemSink) Send(_ context.Context, items ...reporter.Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, items...)
	return nil
}

// A turn runAgain put back (its adopted sandbox never started the agent)
// is recorded as running with no container; a crash before it ran again
// must queue it again, not answer that its sandbox is gone.
func TestRecoverQueuesAgainATurnWhoseAgentNeverStarted(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir, cfg.RunnerID = t.TempDir(), "r1"
	cfg.MaxConcurrent = 0 // nothing starts: the test looks at the queue
	open := func() (*Manager, *itemSink) {
		sink := &itemSink{}
		m, err := New(Params{Config: cfg, Logger: zap.NewNop(), Sink: sink, Sandboxes: noSandboxes{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.cancel(); _ = m.store.close() })
		return m, sink
	}
	m, _ := open()
	turn := Turn{MessageID: "m-again", WorkspaceID: "ws", ConversationID: "c"}
	put := &turnRecord{Turn: turn, State: rpc.StateRunning, Seq: 3, MaxSeq: 3, StateSeq: 3} // as runAgain leaves it
	if err := m.store.putTurn(put); err != nil {
		t.Fatal(err)
	}
	m.cancel()
	_ = m.store.close()

	again, sink := open()
	if err := again.recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	again.mu.Lock()
	pending := len(again.pending)
	again.mu.Unlock()
	if pending != 1 {
		t.Fatalf("%d turns queued after the restart, want the one put back", pending)
	}
	again.wg.Wait()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, it := range sink.items {
		if b := it.JSON(); strings.Contains(string(b), `"error"`) || strings.Contains(string(b), `"result"`) {
			t.Errorf("the turn was answered: %s", b)
		}
	}
}
