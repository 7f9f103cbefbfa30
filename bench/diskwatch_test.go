package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/disk"
	"go.uber.org/zap"
)

// Measurement 8's size: 50 running workspaces of 20,000 files each.
const (
	diskWorkspaces = 50
	diskDirs       = 100 // per workspace
	diskFiles      = 200 // per directory
)

// BenchmarkDiskWatcher is measurement 8: the runner-enforced disk limit's
// watcher (package disk, as the daemon runs it when the file system cannot
// limit a workspace) on 50 running workspaces of 20,000 files each, unchanged:
// the CPU of its own loop over a window at steady state, and the full recount
// it makes every Resync, spread over that interval. It runs in this process
// (the watcher is the component measured; its figures are this process's
// CPU while nothing else here works).
func BenchmarkDiskWatcher(b *testing.B) {
	root := b.TempDir()
	s := disk.Settings{Limit: 10 << 30, WorkspaceRoot: filepath.Join(root, "ws"), StateRoot: filepath.Join(root, "state")}
	logf(b, "making %d workspaces of %d files", diskWorkspaces, diskDirs*diskFiles)
	for w := range diskWorkspaces {
		for d := range diskDirs {
			dir := filepath.Join(s.WorkspaceRoot, fmt.Sprintf("ws-%d", w), fmt.Sprintf("d%03d", d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for f := range diskFiles {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.go", f)), []byte("package x\n"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := os.MkdirAll(filepath.Join(s.StateRoot, fmt.Sprintf("ws-%d", w), "claude"), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	w, err := disk.NewWatcher(s, zap.NewNop(), disk.NewLimits(s, zap.NewNop()), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range diskWorkspaces {
		id := fmt.Sprintf("ws-%d", i)
		defer w.Watch(id, filepath.Join(s.WorkspaceRoot, id), filepath.Join(s.StateRoot, id), nil)()
	}
	cpu := func() time.Duration {
		c, err := TaskCPU(os.Getpid())
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	c0 := cpu()
	w.Measure() // the first, full scan: what each Resync costs again
	full := cpu() - c0
	if n := len(w.Usage()); n != diskWorkspaces {
		b.Fatalf("measured %d workspaces", n)
	}
	if err := w.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer w.Stop(b.Context())
	window := 30 * time.Second
	logf(b, "first scan %s of CPU; measuring %s of steady state", full.Round(time.Millisecond), window)
	c0, began := cpu(), time.Now()
	time.Sleep(window)
	steady := cpu() - c0
	elapsed := time.Since(began)
	interval, resync := disk.DefaultInterval, disk.DefaultResync
	m := &DiskWatch{Workspaces: diskWorkspaces, FilesEach: diskDirs * diskFiles, Seconds: elapsed.Seconds(),
		SteadyPercent: float64(steady) / float64(elapsed) * 100, FullScanMs: float64(full.Milliseconds()),
		ResyncPercent: float64(full) / float64(resync) * 100, IntervalSeconds: interval.Seconds(), ResyncSeconds: resync.Seconds()}
	m.TotalPercent = m.SteadyPercent + m.ResyncPercent
	m.Met = m.TotalPercent < 2
	logf(b, "steady %.3f %% of a core, full scan %.0f ms (%.3f %% spread over %s)", m.SteadyPercent, m.FullScanMs, m.ResyncPercent, resync)
	b.ReportMetric(m.TotalPercent, "cpu-%")
	record(func(r *Results) { r.DiskWatch = m })
}
