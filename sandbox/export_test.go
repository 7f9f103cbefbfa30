package sandbox

import "context"

// RemoveWithHelper exposes the helper-container removal to the tests.
func (m *Manager) RemoveWithHelper(ctx context.Context, path string) error {
	return m.removeWithHelper(ctx, path)
}
