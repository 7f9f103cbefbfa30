package workspace

import (
	"context"
	"fmt"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// BenchmarkPrepareLargeRepository clones a 5,000-file, ~50 MB repository over
// smart HTTP, the size of a mid-size application, per iteration.
func BenchmarkPrepareLargeRepository(b *testing.B) {
	repo := gittest.NewRepo(b, gittest.ManyFiles(5000, 10<<10, 1))
	srv := gittest.Serve(b, repo)
	cfg := config.Defaults()
	cfg.DataDir, cfg.WorkspaceDir = b.TempDir(), b.TempDir()
	cfg.Git.AllowHTTP = true
	m, err := New(Params{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var bytes int64
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("ws-%d", i)
		co, err := m.Prepare(ctx, id, Repository{URL: srv.RepoURL(repo)})
		if err != nil {
			b.Fatal(err)
		}
		bytes = co.Bytes
		b.StopTimer()
		if err := m.Delete(ctx, id, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(bytes)/(1<<20), "checkout-MiB")
}
