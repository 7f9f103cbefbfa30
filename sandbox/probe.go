package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// Capabilities is what the Docker engine can enforce, as probed at start: for
// the start log, `validate` and /readyz.
type Capabilities struct {
	EngineVersion  string   // e.g. "20.10.24+dfsg1"
	APIVersion     string   // negotiated, e.g. "1.41"
	OS, Kernel     string   // host operating system and kernel
	CgroupVersion  string   // "1" or "2"
	CgroupDriver   string   // "cgroupfs" or "systemd"
	MemoryLimit    bool     // memory limits enforceable
	SwapLimit      bool     // memory+swap limits enforceable (swap accounting)
	CPULimit       bool     // CFS quota, for NanoCPUs
	PidsLimit      bool     // pids cgroup
	Runtime        string   // the runtime sandboxes use ("runc" when the engine default)
	Runtimes       []string // runtimes the engine knows
	Seccomp        bool     // the engine applies a seccomp profile
	SeccompProfile string   // "default", "builtin" or a path
	AppArmor       bool
	UserNS         bool // userns-remap is on
	Rootless       bool
	Problems       []string // why the configured limits cannot be enforced; empty when they can
}

// Fields returns the capabilities as log fields.
func (c Capabilities) Fields() []zap.Field {
	return []zap.Field{
		zap.String("engine_version", c.EngineVersion), zap.String("api_version", c.APIVersion),
		zap.String("kernel", c.Kernel), zap.String("cgroup_version", c.CgroupVersion),
		zap.String("cgroup_driver", c.CgroupDriver), zap.Bool("memory_limit", c.MemoryLimit),
		zap.Bool("swap_limit", c.SwapLimit), zap.Bool("cpu_limit", c.CPULimit), zap.Bool("pids_limit", c.PidsLimit),
		zap.String("runtime", c.Runtime), zap.Strings("runtimes", c.Runtimes),
		zap.Bool("seccomp", c.Seccomp), zap.String("seccomp_profile", c.SeccompProfile),
		zap.Bool("apparmor", c.AppArmor), zap.Bool("userns", c.UserNS), zap.Bool("rootless", c.Rootless),
	}
}

// probe asks the engine what it can do and checks it against the
// configuration. The error says every problem at once.
func (m *Manager) probe(ctx context.Context) (Capabilities, error) {
	if _, err := m.docker.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return Capabilities{}, fmt.Errorf("docker engine unreachable (DOCKER_HOST=%s): %w", m.docker.DaemonHost(), err)
	}
	res, err := m.docker.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Capabilities{}, fmt.Errorf("docker engine info: %w", err)
	}
	info := res.Info
	c := Capabilities{
		EngineVersion: info.ServerVersion,
		APIVersion:    m.docker.ClientVersion(),
		OS:            info.OperatingSystem,
		Kernel:        info.KernelVersion,
		CgroupVersion: info.CgroupVersion,
		CgroupDriver:  info.CgroupDriver,
		MemoryLimit:   info.MemoryLimit,
		SwapLimit:     info.SwapLimit,
		CPULimit:      info.CPUCfsQuota && info.CPUCfsPeriod,
		PidsLimit:     info.PidsLimit,
		Runtime:       m.cfg.Sandbox.Runtime,
	}
	if c.CgroupVersion == "" {
		c.CgroupVersion = "1" // engines before API 1.40 only knew v1
	}
	if c.Runtime == "" {
		c.Runtime = info.DefaultRuntime
	}
	for name := range info.Runtimes {
		c.Runtimes = append(c.Runtimes, name)
	}
	slices.Sort(c.Runtimes)
	for _, opt := range info.SecurityOptions {
		kv := securityOption(opt)
		switch kv["name"] {
		case "seccomp":
			c.Seccomp, c.SeccompProfile = true, kv["profile"]
		case "apparmor":
			c.AppArmor = true
		case "userns":
			c.UserNS = true
		case "rootless":
			c.Rootless = true
		}
	}
	c.Problems = m.problems(c)
	if len(c.Problems) > 0 {
		return c, fmt.Errorf("the docker engine cannot run sandboxes as configured: %s: %w",
			strings.Join(c.Problems, "; "), errdefs.ErrNotImplemented)
	}
	return c, nil
}

// problems lists what the engine cannot enforce of the configuration.
func (m *Manager) problems(c Capabilities) []string {
	var p []string
	sc := m.cfg.Sandbox
	if rt := sc.Runtime; rt != "" && !slices.Contains(c.Runtimes, rt) {
		p = append(p, fmt.Sprintf("sandbox runtime %q (--sandbox-runtime) is not registered with the docker engine, which has [%s]; register it under \"runtimes\" in /etc/docker/daemon.json and reload the engine, or unset --sandbox-runtime",
			rt, strings.Join(c.Runtimes, ", ")))
	}
	if sc.Memory > 0 && !c.MemoryLimit {
		p = append(p, "memory limits are not supported by the engine (no memory cgroup)")
	}
	if sc.Memory > 0 && !c.SwapLimit {
		p = append(p, "swap limits are not supported by the engine (enable swap accounting, e.g. swapaccount=1 on the kernel command line), so --sandbox-memory could be exceeded with swap")
	}
	if sc.CPUs > 0 && !c.CPULimit {
		p = append(p, "CPU limits are not supported by the engine (no CFS quota)")
	}
	if sc.Pids > 0 && !c.PidsLimit {
		p = append(p, "process limits are not supported by the engine (no pids cgroup)")
	}
	if c.Rootless && c.CgroupVersion == "1" {
		p = append(p, "rootless docker on cgroup v1 drops every resource limit")
	}
	if !c.Seccomp || c.SeccompProfile == "unconfined" {
		p = append(p, "the engine applies no seccomp profile")
	}
	return p
}

// securityOption parses "name=seccomp,profile=default" (or the old bare "seccomp").
func securityOption(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			out["name"] = part
			continue
		}
		out[k] = v
	}
	return out
}

// errNotStarted is returned by calls that need the probe.
var errNotStarted = fmt.Errorf("sandbox manager not started: %w", errdefs.ErrUnavailable)
