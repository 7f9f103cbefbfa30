package conversation

import (
	"cmp"
	"slices"
)

// Unfinished returns the turns the manager holds that are not answered yet
// (queued, preparing or running, those an earlier run left included), in
// arrival order. `exec` uses it to settle what an earlier exec left before
// its own turn.
func (m *Manager) Unfinished() []Turn {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Turn, 0, len(m.byMsg))
	for _, t := range m.byMsg {
		out = append(out, t.rec.Turn)
	}
	slices.SortFunc(out, func(a, b Turn) int {
		if c := a.Arrived.Compare(b.Arrived); c != 0 {
			return c
		}
		return cmp.Compare(a.Order, b.Order)
	})
	return out
}
