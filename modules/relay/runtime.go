package relay

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
)

// checkRuntime refuses an OCI runtime that would not let the sandbox connect
// to the relay's bind-mounted Unix sockets. gVisor (runsc) refuses host Unix
// sockets unless it runs with --host-uds=open (or create, all).
func (r *Relay) checkRuntime(ctx context.Context) error {
	name := r.cfg.Sandbox.Runtime
	if name == "" || r.docker == nil {
		return nil
	}
	info, err := r.docker.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("read the engine's runtimes: %w", err)
	}
	rt, ok := info.Info.Runtimes[name]
	if !ok {
		return nil // the sandbox engine reports an unknown runtime itself
	}
	if filepath.Base(rt.Path) != "runsc" && !strings.Contains(rt.Type, "runsc") && name != "runsc" {
		return nil
	}
	for _, a := range rt.Args {
		switch strings.TrimLeft(a, "-") {
		case "host-uds=open", "host-uds=all", "host-uds=create", "fsgofer-host-uds", "fsgofer-host-uds=true":
			return nil
		}
	}
	return fmt.Errorf("runtime %s (gVisor) cannot connect to the relay's Unix sockets: add \"--host-uds=open\" to its runtimeArgs in the engine's daemon.json", name)
}
