package disk

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/loopfs"

	"go.uber.org/zap/zaptest"
)

type hits struct {
	mu  sync.Mutex
	evs []Event
}

func (h *hits) add(ev Event) { h.mu.Lock(); h.evs = append(h.evs, ev); h.mu.Unlock() }

// On a file system that cannot limit a directory (ext4 without quotas) the
// runner measures: checkout and state together past the limit stop the turn
// with the disk reason; another workspace goes on.
func TestWatcherStopsWorkspaceOverLimit(t *testing.T) {
	mnt := loopfs.Mount(t, "ext4", 256<<20).Dir
	root, stateRoot := filepath.Join(mnt, "workspaces"), filepath.Join(mnt, "data", "workspaces")
	s := Settings{Limit: 16 << 20, WorkspaceRoot: root, StateRoot: stateRoot}
	l := NewLimits(s, zaptest.NewLogger(t))
	if l.plan.Mode != ModeRunner {
		t.Fatalf("plan %v, want runner", l.plan)
	}
	w, err := NewWatcher(s, zaptest.NewLogger(t), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(t.Context()) })
	dirs := func(id string) (string, string) {
		co, st := filepath.Join(root, id), filepath.Join(stateRoot, id)
		for _, d := range []string{co, filepath.Join(st, "claude")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return co, st
	}
	coA, stA := dirs("ws-a")
	coB, stB := dirs("ws-b")
	var hitA, hitB hits
	defer w.Watch("ws-a", coA, stA, hitA.add)()
	defer w.Watch("ws-b", coB, stB, hitB.add)()
	w.Measure()

	// 10 MiB in the checkout and 8 MiB of agent state: 18 MiB together.
	if err := fill(filepath.Join(coA, "build.out"), 10<<20); err != nil {
		t.Fatal(err)
	}
	w.Measure()
	if len(hitA.evs) != 0 {
		t.Fatalf("limit hit at 10 MiB of 16: %+v", hitA.evs)
	}
	if err := fill(filepath.Join(stA, "claude", "transcript"), 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := fill(filepath.Join(coB, "small"), 4<<20); err != nil {
		t.Fatal(err)
	}
	w.Measure()
	if len(hitA.evs) != 1 {
		t.Fatalf("events for ws-a: %+v, want one", hitA.evs)
	}
	ev := hitA.evs[0]
	if !ev.Stop || ev.Reason != "killed: disk limit 16 MiB" || ev.Used <= 16<<20 || ev.Limit != 16<<20 || ev.Mode != ModeRunner {
		t.Fatalf("event %+v", ev)
	}
	if len(hitB.evs) != 0 {
		t.Fatalf("ws-b hit the limit with 4 MiB: %+v", hitB.evs)
	}
	w.Measure()
	if len(hitA.evs) != 1 {
		t.Fatalf("the limit was reported again: %+v", hitA.evs)
	}
	use := map[string]Usage{}
	for _, u := range w.Usage() {
		use[u.WorkspaceID] = u
	}
	if use["ws-a"].Used < 18<<20 || use["ws-b"].Used < 4<<20 || use["ws-b"].Used > 5<<20 {
		t.Fatalf("usage %+v", use)
	}
}

type fakeHealth struct {
	mu     sync.Mutex
	ready  bool
	reason string
}

func (f *fakeHealth) Ready()            { f.mu.Lock(); f.ready, f.reason = true, ""; f.mu.Unlock() }
func (f *fakeHealth) NotReady(r string) { f.mu.Lock(); f.ready, f.reason = false, r; f.mu.Unlock() }

func TestFloorClosesAndOpensWithFreeSpace(t *testing.T) {
	mnt := loopfs.Mount(t, "ext4", 96<<20).Dir
	ws := filepath.Join(mnt, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &fakeHealth{}
	f := NewFloor(Settings{MinFree: 40 << 20, WorkspaceRoot: ws, DataDir: t.TempDir()}, zaptest.NewLogger(t), h, nil)
	opened := 0
	f.OnOpen(func() { opened++ })
	f.Check()
	if open, why := f.Open(); !open || !h.ready {
		t.Fatalf("floor closed on an empty file system: %s", why)
	}
	big := filepath.Join(ws, "big")
	if err := fill(big, 60<<20); err != nil {
		t.Fatal(err)
	}
	f.Check()
	open, why := f.Open()
	if open || h.ready || why == "" || h.reason != why {
		t.Fatalf("floor open=%v reason %q, health %v %q", open, why, h.ready, h.reason)
	}
	t.Logf("closed: %s", why)
	if err := os.Remove(big); err != nil {
		t.Fatal(err)
	}
	f.Check()
	if open, why := f.Open(); !open || !h.ready || opened != 1 {
		t.Fatalf("floor after space came back: open=%v %q, opened %d times", open, why, opened)
	}
}
