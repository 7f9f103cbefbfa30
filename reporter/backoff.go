package reporter

import (
	"math/rand/v2"
	"time"
)

// backoff is the wait before retry number attempt (1 for the first): full
// jitter, uniform in [0, min(limit, base*2^(attempt-1))], and never less than
// floor (the orchestrator's Retry-After).
func backoff(attempt int, base, limit, floor time.Duration) time.Duration {
	ceiling := limit
	if shift := attempt - 1; shift < 32 {
		if c := base << max(shift, 0); c > 0 && c < limit {
			ceiling = c
		}
	}
	var d time.Duration
	if ceiling > 0 {
		d = rand.N(ceiling + 1)
	}
	return max(d, floor)
}
