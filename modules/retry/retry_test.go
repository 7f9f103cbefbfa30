package retry

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestBackoffIsFullJitterDoublingToACap(t *testing.T) {
	b := Default
	top := func(n int64) int64 { return n - 1 }
	bottom := func(int64) int64 { return 0 }
	wantCeil := []time.Duration{1, 2, 4, 8, 16, 32, 32, 32}
	for i, w := range wantCeil {
		if got := b.delay(i+1, 0, top); got != w*time.Second {
			t.Errorf("attempt %d: ceiling %v, want %v", i+1, got, w*time.Second)
		}
		if got := b.delay(i+1, 0, bottom); got != 0 {
			t.Errorf("attempt %d: floor of the jitter %v, want 0", i+1, got)
		}
	}
	if got := b.delay(1, 5*time.Second, top); got != 5*time.Second {
		t.Errorf("Retry-After 5s over a 1s ceiling: %v", got)
	}
	if got := b.delay(6, 5*time.Second, top); got != 32*time.Second {
		t.Errorf("Retry-After below the draw: %v, want the draw", got)
	}
	if got := b.delay(1, 3*time.Hour, bottom); got != time.Hour {
		t.Errorf("Retry-After 3h: %v, want capped at 1h", got)
	}
	if got := b.delay(1000, 0, top); got != 32*time.Second {
		t.Errorf("attempt 1000: %v", got)
	}
	for range 1000 {
		if d := b.Delay(3, 0); d < 0 || d > 4*time.Second {
			t.Fatalf("Delay(3) = %v, outside [0, 4s]", d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                        0,
		"5":                       5 * time.Second,
		" 10 ":                    10 * time.Second,
		"0":                       0,
		"-3":                      0,
		"soon":                    0,
		"99999":                   time.Hour,
		"99999999999999999999999": 0, // not a number Go can hold: unreadable
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	}
	for in, want := range cases {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { Sleep(ctx, time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Sleep outlived its cancelled context")
	}
}
