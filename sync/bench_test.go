package sync

import (
	"fmt"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

// BenchmarkInitialSync measures a cold start over a backlog of 1000 messages
// (chunks of 100): fetch, journal (one fsync per chunk) and dispatch.
func BenchmarkInitialSync(b *testing.B) {
	for range b.N {
		b.StopTimer()
		srv := electrictest.New(b, electrictest.WithChunkRows(100), electrictest.WithLiveHold(time.Second))
		for n := range 1000 {
			insert(srv, fmt.Sprintf("m%04d", n))
		}
		h := newBenchHarness(b, srv)
		b.StartTimer()
		if err := h.intake.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		for len(h.rec.ids()) < 1000 {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		if err := h.intake.Stop(b.Context()); err != nil {
			b.Fatal(err)
		}
		srv.Close()
	}
}

// BenchmarkLiveLatency measures insert-to-dispatch of one message on a live stream.
func BenchmarkLiveLatency(b *testing.B) {
	srv := electrictest.New(b, electrictest.WithLiveHold(5*time.Second))
	h := newBenchHarness(b, srv)
	if err := h.intake.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.intake.Stop(b.Context()) })
	for ready, _ := h.health.Component(ReadinessComponent).IsReady(); !ready; ready, _ = h.health.Component(ReadinessComponent).IsReady() {
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	for n := range b.N {
		insert(srv, fmt.Sprintf("live%06d", n))
		for len(h.rec.ids()) < n+1 {
			time.Sleep(50 * time.Microsecond)
		}
	}
}
