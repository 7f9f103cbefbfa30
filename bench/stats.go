package bench

import (
	"math"
	"slices"
	"time"
)

// Sample is a set of measured durations.
type Sample []time.Duration

// Percentile is the nearest-rank p-th percentile (0 < p <= 100); 0 for an
// empty sample.
func (s Sample) Percentile(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Median is the 50th percentile.
func (s Sample) Median() time.Duration { return s.Percentile(50) }

// Max is the largest duration; 0 for an empty sample.
func (s Sample) Max() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// Min is the smallest duration; 0 for an empty sample.
func (s Sample) Min() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

// Summary is a sample reduced to what the table shows, in milliseconds.
type Summary struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50Ms"`
	P95 float64 `json:"p95Ms"`
	Min float64 `json:"minMs"`
	Max float64 `json:"maxMs"`
}

// Summarize reduces the sample.
func (s Sample) Summarize() Summary {
	return Summary{N: len(s), P50: Ms(s.Median()), P95: Ms(s.Percentile(95)), Min: Ms(s.Min()), Max: Ms(s.Max())}
}

// Ms is d in milliseconds, rounded to 0.01 ms.
func Ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// Ratio is a/b rounded to 0.01; 0 when b is 0.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*100) / 100
}
