package sync

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is the retry policy for failed Electric requests: full jitter over
// an exponential ceiling, Base doubling per attempt up to Cap, with the
// server's Retry-After as a floor (PROTOCOL checklist 7; the TS client's
// BackoffDefaults and the Elixir client's Req retry agree on 1 s and 32 s).
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
}

// DefaultBackoff is 1 s doubling, capped at 32 s.
var DefaultBackoff = Backoff{Base: time.Second, Cap: 32 * time.Second}

// maxRetryAfter bounds how long a Retry-After can make the client wait.
const maxRetryAfter = time.Hour

// Delay is the wait before retry number attempt (1-based): a uniform random
// duration in [0, min(Cap, Base·2^(attempt-1))], raised to floor when floor is larger.
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
	return max(d, min(floor, maxRetryAfter))
}

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP date.
// Anything unreadable or in the past is no floor at all.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
