package workspace

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockSerializesAWorkspace(t *testing.T) {
	h := newHarness(t, nil)
	var active, maxActive, done atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := h.m.Lock(context.Background(), "ws-1")
			if err != nil {
				t.Errorf("Lock: %v", err)
				return
			}
			n := active.Add(1)
			for {
				m := maxActive.Load()
				if n <= m || maxActive.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond) // widen the window a second holder would need
			active.Add(-1)
			done.Add(1)
			unlock()
			unlock() // a second call is harmless
		}()
	}
	wg.Wait()
	if maxActive.Load() != 1 || done.Load() != 8 {
		t.Errorf("%d holders at once, %d done; want 1 and 8", maxActive.Load(), done.Load())
	}
	if n := len(h.m.turns.keys); n != 0 {
		t.Errorf("locker still tracks %d keys after every holder left", n)
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	h := newHarness(t, nil)
	unlock, err := h.m.Lock(context.Background(), "ws-1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := h.m.Lock(ctx, "ws-1")
		got <- err
	}()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock while held, context cancelled = %v; want context.Canceled", err)
	}

	// Another workspace is not blocked by ws-1.
	other, err := h.m.Lock(context.Background(), "ws-2")
	if err != nil {
		t.Fatalf("Lock ws-2: %v", err)
	}
	other()

	// The waiter that gave up left no trace: ws-1 is free once unlocked.
	unlock()
	again, err := h.m.Lock(context.Background(), "ws-1")
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}

func TestLockBlocksUntilUnlock(t *testing.T) {
	h := newHarness(t, nil)
	unlock, err := h.m.Lock(context.Background(), "ws-1")
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan struct{})
	go func() {
		u, err := h.m.Lock(context.Background(), "ws-1")
		if err != nil {
			t.Errorf("Lock: %v", err)
			close(acquired)
			return
		}
		close(acquired)
		u()
	}()
	select {
	case <-acquired:
		t.Fatal("second holder got the lock while the first held it")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	<-acquired
}
