package sandbox

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
)

// NetworkNone is the default sandbox network: no interface but loopback.
const NetworkNone = "none"

// networkMode is the engine network a run joins: the spec's, or none. All
// network decisions of the package live in this file.
func networkMode(s *Spec) string {
	if s.NetworkMode == "" {
		return NetworkNone
	}
	return s.NetworkMode
}

// checkNetwork refuses the host's network namespace and joining another
// container's: the sandbox never shares a network stack.
func checkNetwork(s *Spec) error {
	mode := networkMode(s)
	if mode == "host" || strings.HasPrefix(mode, "container:") {
		return fmt.Errorf("sandbox spec: network mode %q shares a network namespace: %w", mode, errdefs.ErrInvalidArgument)
	}
	return nil
}
