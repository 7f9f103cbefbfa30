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
	notices notices   // runner events raised during the turn
	meter   turnMeter // the relay's count of the turn (meter.go)
	pushed  lastPush  // the turn's last push through the git relay (git.go)

	// Free-space gate (disk.go), guarded by the manager's mu: told that the
	// turn waits for free disk; being told (pump must not start it meanwhile).
	heldTold, holding bool
	// Closed once a submitted turn is recorded (or gave up): pump starts
	// it only then (schedule.go). nil: recorded before it was known here.
	recorded chan struct{}

	mu      stdsync.Mutex
	cancel  context.CancelFunc // cancels preparation
	run     *sandbox.Run
	cause   stopCause
	reason  string
	decided bool // the answer is being recorded: a stop comes too late
}

// isRecorded reports whether the turn's record is durable (Enqueue).
func (t *turnState) isRecorded() bool {
	if t.recorded == nil {
		return true
	}
	select {
	case <-t.recorded:
		return true
	default:
		return false
	}
}

func newTurnState(rec *turnRecord) *turnState {
	return &turnState{rec: rec, done: make(chan struct{})}
}

// stop ends the turn for a cause: a queued-up preparation is cancelled, a
// running sandbox gets SIGTERM, its grace period, then SIGKILL. false: the
// turn's answer was already decided, the stop does not apply.
func (t *turnState) stop(cause stopCause, reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.decided {
		return false
	}
	if t.cause == causeNone {
		t.cause, t.reason = cause, reason
	}
	if t.run != nil {
		t.run.Cancel(reason)
	} else if t.cancel != nil {
		t.cancel()
	}
	return true
}

// answered reports whether the turn's answer is decided.
func (t *turnState) answered() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.decided
}

// decide closes the turn to stops and returns the cause of the one that came
// first, if any: it wins over how the run ended, so a cancel answered
// {"cancelled":true} always ends in a cancelled turn.
func (t *turnState) decide() stopCause {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.decided = true
	return t.cause
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
