package sandbox

import (
	"context"
	"errors"
	"sync"
)

// flight shares one engine call among the turns that ask for the same
// thing at the same moment: 50 workspaces starting their turns at once ask
// the engine about the same image 50 times, and the engine answers those
// one after the other. A caller that arrives while a call for its key is
// under way waits for that call's answer instead of making its own (so an
// answer is at most one call older than the request); one that arrives
// after it has ended makes a new call.
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*flightCall[T]
}

type flightCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// do returns fn's answer for key, from the call under way when there is
// one. The call runs with its first caller's ctx: a caller that gets the
// error of another's ended ctx asks again.
func (f *flight[T]) do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
	for {
		f.mu.Lock()
		if f.calls == nil {
			f.calls = map[string]*flightCall[T]{}
		}
		c, joined := f.calls[key]
		if !joined {
			c = &flightCall[T]{done: make(chan struct{})}
			f.calls[key] = c
		}
		f.mu.Unlock()
		if !joined {
			c.val, c.err = fn()
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(c.done)
			return c.val, c.err
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
		ended := errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)
		if !ended || ctx.Err() != nil {
			return c.val, c.err
		}
	}
}
