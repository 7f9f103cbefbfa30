package sync

import (
	"fmt"
	"syscall"
	"time"
)

// DefaultMinFree is the free space the data dir's file system must have for
// the intake to take new messages (Params.MinFree).
const DefaultMinFree = 8 << 20

// refusedRetryCap bounds the wait before asking again after a refusal: the
// runner takes messages again soon after space is back.
const refusedRetryCap = 2 * time.Second

// Gate says whether the runner can take new work. While Accepting returns an
// error (what takes the messages over cannot record or send them: a full or
// failing data dir), the intake journals nothing, its position does not
// move and Electric is asked again later: a message is not taken that could
// be neither run nor answered.
type Gate interface {
	Accepting() error
}

// refusedError is a batch not taken because the runner cannot take work:
// the stream does not move and the same request is retried.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return "not taking new messages: " + e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// accepting checks, before new messages are journaled, that what takes them
// over can record them (the Gate) and that the data dir's file system has
// room for them (bbolt reuses its free pages, so the journal could commit on
// a full disk that nothing downstream can write to).
func (i *Intake) accepting() error {
	if i.p.Gate != nil {
		if err := i.p.Gate.Accepting(); err != nil {
			return &refusedError{err: err}
		}
	}
	if i.p.MinFree < 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(i.cfg.DataDir, &st); err != nil {
		return nil // no answer is no reason to stop: the writes say what fails
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < i.p.MinFree {
		return &refusedError{err: fmt.Errorf("the data dir's file system has %d bytes free, less than the %d the intake keeps in reserve", free, i.p.MinFree)}
	}
	return nil
}
