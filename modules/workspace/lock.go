package workspace

import (
	"context"
	"sync"
)

// locker hands out one holder at a time per key, waiting in a way that
// honours the caller's context. Keys with no holder and no waiter are
// forgotten, so the map only holds live workspaces.
type locker struct {
	mu   sync.Mutex
	keys map[string]*keyLock
}

type keyLock struct {
	sem  chan struct{}
	refs int
}

func newLocker() *locker { return &locker{keys: map[string]*keyLock{}} }

func (l *locker) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	k, ok := l.keys[key]
	if !ok {
		k = &keyLock{sem: make(chan struct{}, 1)}
		l.keys[key] = k
	}
	k.refs++
	l.mu.Unlock()

	select {
	case k.sem <- struct{}{}:
	case <-ctx.Done():
		l.release(key, k)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-k.sem
			l.release(key, k)
		})
	}, nil
}

func (l *locker) release(key string, k *keyLock) {
	l.mu.Lock()
	k.refs--
	if k.refs == 0 {
		delete(l.keys, key)
	}
	l.mu.Unlock()
}
