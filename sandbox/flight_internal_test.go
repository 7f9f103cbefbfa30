package sandbox

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Callers that ask at once share one call; a caller after it ends makes a
// new one; a caller that got another's cancelled call asks again.
func TestFlightSharesACallUnderWay(t *testing.T) {
	var f flight[int]
	var calls atomic.Int32
	release := make(chan struct{})
	slow := func() (int, error) {
		n := calls.Add(1)
		<-release
		return int(n), nil
	}
	var wg sync.WaitGroup
	got := make([]int, 10)
	for i := range got {
		wg.Go(func() { got[i], _ = f.do(context.Background(), "img", slow) })
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the others join the call under way
	close(release)
	wg.Wait()
	for i, v := range got {
		if v != 1 {
			t.Errorf("caller %d got call %d, want the shared call 1", i, v)
		}
	}
	if v, _ := f.do(context.Background(), "img", slow); v != 2 {
		t.Errorf("a caller after the call ended got call %d, want a new one (2)", v)
	}

	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		_, _ = f.do(ctx, "other", func() (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
	}()
	<-started
	done := make(chan int)
	go func() {
		v, err := f.do(context.Background(), "other", func() (int, error) { return 7, nil })
		if err != nil {
			t.Errorf("the second caller got the first one's cancel: %v", err)
		}
		done <- v
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if v := <-done; v != 7 {
		t.Errorf("second caller got %d, want its own call's 7", v)
	}
}
