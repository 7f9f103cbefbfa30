package reporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/retry"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter"
	"go.uber.org/zap"
)

// oneKiBEvent is a stream-json line of 1 KiB.
var oneKiBEvent = func() json.RawMessage {
	prefix := `{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"`
	suffix := `"}]},"session_id":"5f0c8a0e-2b1e-4e43-9f3c-1d2a3b4c5d6e"}`
	return json.RawMessage(prefix + strings.Repeat("a", 1024-len(prefix)-len(suffix)) + suffix)
}()

// benchOrchestrator accepts every batch and only reads it: the benchmark
// measures the reporter, not a JSON decoder.
func benchOrchestrator(b *testing.B, status *atomic.Int32) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(int(status.Load()))
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func benchReporter(b *testing.B, url string, tn reporter.Tuning) *reporter.Reporter {
	cfg := config.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.RunnerID, cfg.RunnerToken, cfg.OrchestratorURL = testRunnerID, testToken, url
	cfg.Outbox.MaxSize = 4 << 30
	rep, err := reporter.New(reporter.Params{Config: cfg, Logger: zap.NewNop(), Health: health.NewRegistry(), Tuning: tn})
	if err != nil {
		b.Fatal(err)
	}
	if err := rep.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rep.Stop(ctx)
	})
	return rep
}

// produce sends n 1 KiB events from producers goroutines, chunk events per Send.
func produce(b *testing.B, rep *reporter.Reporter, n, producers, chunk int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("bench-%d", p)
			items := make([]reporter.Item, 0, chunk)
			var seq int64
			for {
				k := int(min(next.Add(int64(chunk)), int64(n)+int64(chunk)) - int64(chunk))
				if k >= n {
					return
				}
				items = items[:0]
				for range min(chunk, n-k) {
					seq++
					items = append(items, reporter.Event(rpc.EventParams{MessageID: msg, WorkspaceID: "ws-bench",
						ConversationID: "c-bench", Seq: seq, Event: oneKiBEvent}))
				}
				if err := rep.Send(context.Background(), items...); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func flushAll(b *testing.B, rep *reporter.Reporter) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := rep.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDeliver measures 1 KiB events per second from producers' Send to
// a local orchestrator's 2xx, with the default batching.
func BenchmarkDeliver(b *testing.B) {
	cases := []struct{ producers, chunk int }{{1, 64}, {4, 64}, {4, 256}, {8, 1}}
	for _, c := range cases {
		b.Run(fmt.Sprintf("producers=%d/chunk=%d", c.producers, c.chunk), func(b *testing.B) {
			var status atomic.Int32
			status.Store(http.StatusOK)
			rep := benchReporter(b, benchOrchestrator(b, &status), reporter.Tuning{})
			b.ReportAllocs()
			b.SetBytes(int64(len(oneKiBEvent)))
			b.ResetTimer()
			start := time.Now()
			produce(b, rep, b.N, c.producers, c.chunk)
			flushAll(b, rep)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkBacklog builds a backlog while the orchestrator answers 503, then
// lets it drain; it reports the peak Go heap, which must not grow with the
// backlog (the backlog lives in the outbox file, not in memory).
func BenchmarkBacklog(b *testing.B) {
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	rep := benchReporter(b, benchOrchestrator(b, &status), reporter.Tuning{Backoff: retry.Backoff{Base: 5 * time.Millisecond, Cap: 20 * time.Millisecond}})
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	produce(b, rep, b.N, 4, 64)
	queued := time.Since(start)
	status.Store(http.StatusOK)
	flushAll(b, rep)
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(b.N)/queued.Seconds(), "queued-events/s")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(b.N)*float64(len(oneKiBEvent))/(1<<20), "backlog-MiB")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
