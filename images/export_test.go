package images

import "time"

// SetProgressEvery changes how often pull progress is logged, for tests.
func SetProgressEvery(d time.Duration) func() {
	old := progressEvery
	progressEvery = d
	return func() { progressEvery = old }
}
