package disk

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Event says a workspace reached its disk limit.
type Event struct {
	WorkspaceID string
	Used, Limit int64
	// Mode is who enforces the limit of the workspace's checkout.
	Mode Mode
	// Stop: the runner enforces the limit that was passed and the turn must be
	// stopped with Reason. Otherwise the file system refuses the writes.
	Stop   bool
	Reason string
}

// Usage is a workspace's measured disk use.
type Usage struct {
	WorkspaceID string
	Used, Limit int64
	Mode        Mode
}

// fsHitShare is how full (in 1/1000) a file-system-limited checkout must be
// for the limit to count as hit: the file system refuses the write that would
// pass it, so the use stays just below.
const fsHitShare = 950

// Watcher measures the workspaces whose turn runs, reports their use and
// says when one reaches its limit.
type Watcher struct {
	s       Settings
	log     *zap.Logger
	limits  *Limits
	metrics *metrics

	mu      sync.Mutex
	watches map[string]*watch
	last    map[string]Usage
	in      *inotify

	cancel context.CancelFunc
	done   chan struct{}
}

type watch struct {
	id       string
	checkout string
	state    string
	mode     Mode
	hit      func(Event)
	trees    []*tree // nil until the loop first measures it
	fullAt   time.Time
	fired    bool
}

// NewWatcher makes a watcher; it measures nothing until Start.
func NewWatcher(s Settings, log *zap.Logger, limits *Limits, m *metrics) (*Watcher, error) {
	in, err := newInotify()
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = newMetrics(nil)
	}
	return &Watcher{s: s.withDefaults(), log: log, limits: limits, metrics: m,
		watches: map[string]*watch{}, last: map[string]Usage{}, in: in}, nil
}

// Watch measures workspace id (its checkout and its state dir) until the
// returned stop is called, and calls hit once when it reaches the limit. It
// first sets the file-system limit on the checkout where there is one.
func (w *Watcher) Watch(id, checkout, state string, hit func(Event)) (stop func()) {
	mode := ModeNone
	if w.s.Limit > 0 {
		var err error
		if mode, err = w.limits.Apply(id, checkout); err != nil {
			w.log.Warn("cannot set the file system's disk limit; the runner enforces it", zap.String("workspace_id", id), zap.Error(err))
		}
	}
	wt := &watch{id: id, checkout: checkout, state: state, mode: mode, hit: hit}
	w.mu.Lock()
	if old := w.watches[id]; old != nil {
		old.close()
	}
	w.watches[id] = wt
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.watches[id] == wt {
			delete(w.watches, id)
			wt.close()
		}
	}
}

func (wt *watch) close() {
	for _, t := range wt.trees {
		t.close()
	}
	wt.trees = nil
}

// Usage is the last measured use of every workspace measured since start,
// by workspace id.
func (w *Watcher) Usage() []Usage {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Usage, 0, len(w.last))
	for _, u := range w.last {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].WorkspaceID < out[j].WorkspaceID })
	return out
}

// Forget drops a deleted workspace's figures.
func (w *Watcher) Forget(id string) {
	w.mu.Lock()
	delete(w.last, id)
	w.mu.Unlock()
	w.metrics.forget(id)
}

// Start runs the measuring loop.
func (w *Watcher) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go w.loop(ctx)
	return nil
}

// Stop ends the loop and releases every watch.
func (w *Watcher) Stop(ctx context.Context) error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, wt := range w.watches {
		wt.close()
		delete(w.watches, id)
	}
	w.in.close()
	return nil
}

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(w.s.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.Measure()
		}
	}
}

// Measure brings every watched workspace's use up to date and reports the
// limits reached (the loop calls it every Interval).
func (w *Watcher) Measure() {
	start := time.Now()
	w.mu.Lock()
	w.in.drain()
	var hits []Event
	var hitFns []func(Event)
	for _, wt := range w.watches {
		checkout, state := w.measure(wt, start)
		u := Usage{WorkspaceID: wt.id, Used: checkout + state, Limit: w.s.Limit, Mode: wt.mode}
		w.last[wt.id] = u
		w.metrics.used(wt.id, u.Used)
		if ev, ok := w.reached(wt, checkout, u.Used); ok && !wt.fired {
			wt.fired = true
			hits, hitFns = append(hits, ev), append(hitFns, wt.hit)
		}
	}
	w.mu.Unlock()
	w.metrics.measured(time.Since(start))
	for i, ev := range hits {
		w.metrics.hit(ev.Mode)
		w.log.Info("disk limit reached", zap.String("workspace_id", ev.WorkspaceID), zap.Int64("used", ev.Used),
			zap.Int64("limit", ev.Limit), zap.String("mode", string(ev.Mode)), zap.Bool("stop", ev.Stop))
		if hitFns[i] != nil {
			hitFns[i](ev)
		}
	}
}

// measure returns the use of a workspace's checkout and state. Caller holds w.mu.
func (w *Watcher) measure(wt *watch, now time.Time) (checkout, state int64) {
	if wt.trees == nil || now.Sub(wt.fullAt) >= w.s.Resync {
		wt.close()
		for _, dir := range []string{wt.checkout, wt.state} {
			t, err := newTree(dir, w.in)
			if err != nil {
				w.log.Debug("cannot measure", zap.String("workspace_id", wt.id), zap.String("dir", dir), zap.Error(err))
				t = &tree{root: dir, rootFd: -1}
			}
			wt.trees = append(wt.trees, t)
		}
		wt.fullAt = now
	} else {
		for _, t := range wt.trees {
			if t.rootFd >= 0 {
				t.refresh()
			}
		}
	}
	return wt.trees[0].used, wt.trees[1].used
}

// reached says whether the workspace is at its limit: the runner's own when
// checkout and state together pass it, the file system's when the checkout
// alone is within a hair of it.
func (w *Watcher) reached(wt *watch, checkout, used int64) (Event, bool) {
	limit := w.s.Limit
	if limit <= 0 {
		return Event{}, false
	}
	ev := Event{WorkspaceID: wt.id, Used: used, Limit: limit, Mode: wt.mode}
	fsMode := wt.mode == ModeBtrfs || wt.mode == ModeProject
	stopAt := limit
	if fsMode {
		// The file system lets the checkout fill to the limit (the agent gets
		// EDQUOT there); the slack keeps a full checkout with a little state
		// from also being stopped.
		stopAt += max(limit/20, 4<<20)
	}
	switch {
	case used > stopAt:
		ev.Stop, ev.Reason = true, LimitReason(limit)
		return ev, true
	case fsMode && checkout >= limit/1000*fsHitShare:
		return ev, true
	}
	return Event{}, false
}

func (u Usage) String() string {
	return fmt.Sprintf("%s: %s of %s (%s)", u.WorkspaceID, Human(u.Used), Human(u.Limit), u.Mode)
}
