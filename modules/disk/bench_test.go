package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWatcherSteadyState: the runner-enforced watcher on 50 running
// workspaces of 20,000 files each (100 directories of 200 files), measured
// every 2 s as the daemon does. Reported: the CPU of one steady-state
// measurement of all 50 as a share of one core at that interval, the full
// first scan, and the periodic full resync amortized over its 15 minutes.
//
//	go test -run '^$' -bench WatcherSteadyState -benchtime 20x ./modules/disk/
func BenchmarkWatcherSteadyState(b *testing.B) {
	const workspaces, dirs, files = 50, 100, 200
	s, err := benchTrees(workspaces, dirs, files)
	if err != nil {
		b.Fatal(err)
	}
	l := NewLimits(s, zap.NewNop())
	w, err := NewWatcher(s, zap.NewNop(), l, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop(b.Context())
	for i := range workspaces {
		id := fmt.Sprintf("ws-%d", i)
		defer w.Watch(id, filepath.Join(s.WorkspaceRoot, id), filepath.Join(s.StateRoot, id), nil)()
	}
	c0 := cpuTime()
	w.Measure() // the first, full scan
	full := cpuTime() - c0
	var total int64
	for _, u := range w.Usage() {
		total += u.Used
	}
	if len(w.Usage()) != workspaces || total == 0 {
		b.Fatalf("measured %d workspaces, %d bytes", len(w.Usage()), total)
	}
	b.ResetTimer()
	c0 = cpuTime()
	for range b.N {
		w.Measure()
	}
	steady := (cpuTime() - c0) / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(steady)/float64(w.s.Interval)*100, "%core-steady")
	b.ReportMetric(float64(full)/float64(w.s.Resync)*100, "%core-resync")
	b.ReportMetric(float64(full.Milliseconds()), "ms-full-scan")
}

var benchRoot struct {
	once sync.Once
	s    Settings
	err  error
}

// benchCleanup removes the benchmark's trees; TestMain calls it.
var benchCleanup = func() {}

// benchTrees makes the benchmark's workspaces once per test binary (a
// benchmark function runs more than once).
func benchTrees(workspaces, dirs, files int) (Settings, error) {
	benchRoot.once.Do(func() {
		root, err := os.MkdirTemp("", "disk-bench-")
		if err != nil {
			benchRoot.err = err
			return
		}
		benchCleanup = func() { os.RemoveAll(root) }
		s := Settings{Limit: 10 << 30, WorkspaceRoot: filepath.Join(root, "ws"), StateRoot: filepath.Join(root, "state")}
		for w := range workspaces {
			for d := range dirs {
				dir := filepath.Join(s.WorkspaceRoot, fmt.Sprintf("ws-%d", w), fmt.Sprintf("d%03d", d))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					benchRoot.err = err
					return
				}
				for f := range files {
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.go", f)), []byte("package x\n"), 0o644); err != nil {
						benchRoot.err = err
						return
					}
				}
			}
			if err := os.MkdirAll(filepath.Join(s.StateRoot, fmt.Sprintf("ws-%d", w), "claude"), 0o755); err != nil {
				benchRoot.err = err
				return
			}
		}
		benchRoot.s = s
	})
	return benchRoot.s, benchRoot.err
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchCleanup()
	os.Exit(code)
}
