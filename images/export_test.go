package images

import (
	"context"
	"time"
)

// SetProgressEvery changes how often pull progress is logged, for tests.
func SetProgressEvery(d time.Duration) func() {
	old := progressEvery
	progressEvery = d
	return func() { progressEvery = old }
}

// Present reports whether ref is on the engine, without pulling.
func (s *Store) Present(ctx context.Context, ref string) (bool, error) { return s.present(ctx, ref) }
