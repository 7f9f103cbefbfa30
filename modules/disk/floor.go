package disk

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// readiness is the health component the Floor keeps (health.Component).
type readiness interface {
	Ready()
	NotReady(reason string)
}

// Floor keeps new turns from starting while the workspace or data file system
// has less free space than MinFree, and opens again by itself once it has.
type Floor struct {
	s       Settings
	log     *zap.Logger
	health  readiness
	metrics *metrics
	statfs  func(dir string) (free int64, err error)

	mu     sync.Mutex
	open   bool
	reason string
	onOpen []func()

	cancel context.CancelFunc
	done   chan struct{}
}

// NewFloor makes a floor, open until its first check (Start checks at once).
func NewFloor(s Settings, log *zap.Logger, health readiness, m *metrics) *Floor {
	if m == nil {
		m = newMetrics(nil)
	}
	return &Floor{s: s.withDefaults(), log: log, health: health, metrics: m, statfs: freeSpace, open: true}
}

func freeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// Open reports whether new turns may start, and why not.
func (f *Floor) Open() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open, f.reason
}

// OnOpen registers fn, called (without locks held) each time the floor opens again.
func (f *Floor) OnOpen(fn func()) {
	f.mu.Lock()
	f.onOpen = append(f.onOpen, fn)
	f.mu.Unlock()
}

// Check measures free space now and opens or closes the floor.
func (f *Floor) Check() {
	reason := ""
	if f.s.MinFree > 0 {
		for _, d := range []struct{ dir, what string }{{f.s.WorkspaceRoot, "workspace dir"}, {f.s.DataDir, "data dir"}} {
			if d.dir == "" {
				continue
			}
			free, err := f.statfs(d.dir)
			if err != nil {
				f.log.Debug("cannot measure free space", zap.String("dir", d.dir), zap.Error(err))
				continue
			}
			f.metrics.free(d.dir, free)
			if free < f.s.MinFree && reason == "" {
				reason = fmt.Sprintf("free disk %s on %s (%s) is below --min-free-disk %s", Human(free), d.dir, d.what, Human(f.s.MinFree))
			}
		}
	}
	f.mu.Lock()
	was := f.open
	f.open, f.reason = reason == "", reason
	fns := append([]func(){}, f.onOpen...)
	f.mu.Unlock()
	f.metrics.blocked(reason != "")
	if reason != "" {
		if f.health != nil {
			f.health.NotReady(reason)
		}
		if was {
			f.log.Warn("free space low: no new turn starts", zap.String("reason", reason))
		}
		return
	}
	if f.health != nil {
		f.health.Ready()
	}
	if !was {
		f.log.Info("free space back: turns start again")
		for _, fn := range fns {
			fn()
		}
	}
}

// Start checks at once, then every Interval.
func (f *Floor) Start(context.Context) error {
	f.Check()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		tick := time.NewTicker(f.s.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				f.Check()
			}
		}
	}()
	return nil
}

// Stop ends the checks.
func (f *Floor) Stop(ctx context.Context) error {
	if f.cancel == nil {
		return nil
	}
	f.cancel()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
