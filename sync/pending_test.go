package sync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

// lazyHandler takes messages without settling them: as if the runner died
// after the journal's commit and before the handler made them durable.
type lazyHandler struct{ *recorder }

func (l lazyHandler) Dispatch(_ context.Context, m Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.messages = append(l.messages, m)
}

// errResponder never makes an answer durable.
type errResponder struct{}

func (errResponder) Respond(context.Context, rpc.Response) error { return errors.New("outbox full") }

// A message the journal took is handed over again after a restart until the
// handler says Settled; once settled, never again. The same holds for the
// answer to an invalid row until the responder took it.
func TestUnsettledMessagesAreHandedOverAgainAfterARestart(t *testing.T) {
	srv := electrictest.New(t, electrictest.WithLiveHold(200*time.Millisecond), electrictest.WithBearerToken(testToken))
	dir := t.TempDir()
	insert(srv, "a")
	insert(srv, "b")
	srv.InsertMessage("bad", testRunner, "ws-1", []byte(`{not json`))
	h := newHarness(t, srv, dir, func(p *Params) {
		lazy := lazyHandler{&recorder{}}
		p.Handler = lazy
		p.Responder = errResponder{}
	})
	h.start()
	eventually(t, "first dispatch", func() bool { return len(h.params.Handler.(lazyHandler).ids()) == 2 })
	h.waitReady()
	h.stop()

	h2 := newHarness(t, srv, dir).start()
	h2.waitIDs("a", "b")
	eventually(t, "the invalid row's answer", func() bool { return len(h2.rec.responses()) == 1 })
	h2.waitReady()
	h2.stop()

	h3 := newHarness(t, srv, dir).start()
	h3.waitReady()
	insert(srv, "c")
	h3.waitIDs("c")
	if got := h3.rec.responses(); len(got) != 0 {
		t.Fatalf("answers after settling: %v", got)
	}
}
