package health

import (
	"sort"
	"sync"
)

// Registry holds the readiness of every component.
type Registry struct {
	mu         sync.Mutex
	components map[string]*Component
}

// NewRegistry returns an empty readiness registry.
func NewRegistry() *Registry {
	return &Registry{components: map[string]*Component{}}
}

// Component registers a component by name, not ready ("starting") until it says
// otherwise. Registering a name twice returns the same component.
func (r *Registry) Component(name string) *Component {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.components[name]; ok {
		return c
	}
	c := &Component{name: name, reason: "starting"}
	r.components[name] = c
	return c
}

// ComponentStatus is one component's readiness as /readyz reports it.
type ComponentStatus struct {
	Name   string `json:"name"`
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

// Status reports whether every component is ready, and each one's state by name.
func (r *Registry) Status() (bool, []ComponentStatus) {
	r.mu.Lock()
	comps := make([]*Component, 0, len(r.components))
	for _, c := range r.components {
		comps = append(comps, c)
	}
	r.mu.Unlock()
	sort.Slice(comps, func(i, j int) bool { return comps[i].name < comps[j].name })
	all := true
	out := make([]ComponentStatus, len(comps))
	for i, c := range comps {
		out[i] = c.status()
		all = all && out[i].Ready
	}
	return all, out
}

// Component is one part of the runner that can be ready or not.
type Component struct {
	name   string
	mu     sync.Mutex
	ready  bool
	reason string
}

// Ready marks the component ready.
func (c *Component) Ready() {
	c.mu.Lock()
	c.ready, c.reason = true, ""
	c.mu.Unlock()
}

// NotReady marks the component not ready, with a reason an operator can act on.
func (c *Component) NotReady(reason string) {
	c.mu.Lock()
	c.ready, c.reason = false, reason
	c.mu.Unlock()
}

// IsReady reports the component's state and reason.
func (c *Component) IsReady() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready, c.reason
}

func (c *Component) status() ComponentStatus {
	ready, reason := c.IsReady()
	return ComponentStatus{Name: c.name, Ready: ready, Reason: reason}
}
