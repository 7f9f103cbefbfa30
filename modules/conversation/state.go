package conversation

import (
	"context"
	stdsync "sync"

	"github.com/claudette-dev/claudette-runner/sandbox"
)

// turnState is a turn the manager knows: its record and, while it runs, how to stop it.
type turnState struct {
	rec     *turnRecord
	done    chan struct{}
	notices notices // runner events raised during the turn

	// Free-space gate (disk.go), guarded by the manager's mu: told that the
	// turn waits for free disk; being told (pump must not start it meanwhile).
	heldTold, holding bool

	mu     stdsync.Mutex
	cancel context.CancelFunc // cancels preparation
	run    *sandbox.Run
	cause  stopCause
	reason string
}

func newTurnState(rec *turnRecord) *turnState {
	return &turnState{rec: rec, done: make(chan struct{})}
}

// stop ends the turn for a cause: a queued-up preparation is cancelled, a
// running sandbox gets SIGTERM, its grace period, then SIGKILL.
func (t *turnState) stop(cause stopCause, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cause == causeNone {
		t.cause, t.reason = cause, reason
	}
	if t.run != nil {
		t.run.Cancel(reason)
	} else if t.cancel != nil {
		t.cancel()
	}
}

func (t *turnState) setCancel(cancel context.CancelFunc) {
	t.mu.Lock()
	t.cancel = cancel
	t.mu.Unlock()
}

// setRun records the running sandbox; a stop that came first applies at once.
func (t *turnState) setRun(run *sandbox.Run) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.run = run
	if t.cause != causeNone {
		run.Cancel(t.reason)
	}
}

func (t *turnState) stopCause() stopCause {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cause
}
