package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is full jitter over an exponential ceiling: Base doubling per
// attempt up to Cap (PROTOCOL checklist 7; Electric's TS and Elixir clients
// agree on 1 s and 32 s).
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
}

// Default is 1 s doubling, capped at 32 s.
var Default = Backoff{Base: time.Second, Cap: 32 * time.Second}

// MaxRetryAfter bounds how long a server's Retry-After can make a caller wait.
const MaxRetryAfter = time.Hour

// Delay is the wait before retry number attempt (1-based): a uniform random
// duration in [0, min(Cap, Base·2^(attempt-1))], raised to floor (a
// Retry-After, at most MaxRetryAfter) when floor is larger.
func (b Backoff) Delay(attempt int, floor time.Duration) time.Duration {
	return b.delay(attempt, floor, rand.Int64N)
}

func (b Backoff) delay(attempt int, floor time.Duration, randN func(int64) int64) time.Duration {
	ceiling := b.Base
	for i := 1; i < attempt && ceiling < b.Cap; i++ {
		if ceiling > b.Cap/2 {
			ceiling = b.Cap
			break
		}
		ceiling *= 2
	}
	ceiling = min(ceiling, b.Cap)
	var d time.Duration
	if ceiling > 0 {
		d = time.Duration(randN(int64(ceiling) + 1))
	}
	return max(d, min(floor, MaxRetryAfter))
}

// ParseRetryAfter reads a Retry-After header: delta seconds or an HTTP date,
// at most MaxRetryAfter. Anything unreadable or in the past is no floor at all.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// Sleep waits d, or less when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
