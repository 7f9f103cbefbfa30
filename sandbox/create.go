package sandbox

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// oomScoreAdj makes the kernel pick sandboxes before the runner and the host's
// services when the whole machine runs out of memory.
const oomScoreAdj = 500

// createOptions is the whole container definition of a run: command, limits
// and hardening. Every limit comes from the configuration.
func (m *Manager) createOptions(s *Spec, image string, timeout time.Duration, deadline time.Time) client.ContainerCreateOptions {
	sc := m.cfg.Sandbox
	stopTimeout := graceSeconds(sc.StopGrace)
	pids := sc.Pids
	init := true
	mounts := []mount.Mount{bind(s.Checkout, WorkspacePath, false)}
	for _, mt := range s.Mounts {
		mounts = append(mounts, bind(mt.Source, mt.Target, mt.ReadOnly))
	}
	entrypoint, cmd := s.Cmd[:1], s.Cmd[1:]
	stdin := len(s.Stdin) > 0 || s.StdinFile == ""
	if s.StdinFile != "" {
		// The command's arguments stay arguments ("$@"): nothing of them is shell text.
		mounts = append(mounts, bind(s.StdinFile, StdinPath, true))
		entrypoint, cmd = []string{"/bin/sh", "-c", `exec "$@" <` + StdinPath, "sh"}, s.Cmd
	}
	cfg := &container.Config{
		Image:       image,
		User:        m.user,
		Entrypoint:  entrypoint,
		Cmd:         cmd,
		Env:         append([]string(nil), s.Env...),
		WorkingDir:  WorkspacePath,
		Labels:      labels(m.cfg.RunnerID, s, timeout, deadline),
		OpenStdin:   stdin,
		StdinOnce:   stdin,
		AttachStdin: stdin, AttachStdout: true, AttachStderr: true,
		StopSignal:  "SIGTERM",
		StopTimeout: &stopTimeout,
	}
	host := &container.HostConfig{
		Mounts:         mounts,
		NetworkMode:    container.NetworkMode(networkMode(s)),
		Init:           &init, // docker-init as PID 1: forwards SIGTERM, reaps zombies
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": "rw,nosuid,nodev,mode=1777,size=" + strconv.FormatInt(int64(sc.TmpSize), 10)},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true"},
		Privileged:     false,
		IpcMode:        container.IPCModePrivate,
		PidMode:        "",
		UTSMode:        "",
		UsernsMode:     "",
		CgroupnsMode:   container.CgroupnsModePrivate,
		OomScoreAdj:    oomScoreAdj,
		Runtime:        m.cfg.Sandbox.Runtime,
		LogConfig:      logConfig(int64(sc.OutputLimit)),
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Resources: container.Resources{
			Memory:     int64(sc.Memory),
			MemorySwap: int64(sc.Memory), // swap equal to memory: no swap beyond the limit
			NanoCPUs:   int64(math.Round(sc.CPUs * 1e9)),
			PidsLimit:  &pids,
			Ulimits: []*container.Ulimit{
				{Name: "nofile", Soft: sc.NoFile, Hard: sc.NoFile},
				{Name: "core", Soft: 0, Hard: 0}, // no core dumps into the checkout
			},
			Devices: nil,
		},
	}
	return client.ContainerCreateOptions{Name: ContainerName(m.cfg.RunnerID, s.WorkspaceID), Config: cfg, HostConfig: host}
}

func bind(src, dst string, ro bool) mount.Mount {
	return mount.Mount{Type: mount.TypeBind, Source: src, Target: dst, ReadOnly: ro,
		BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate}}
}

// logConfig keeps the container's whole output in the engine (json-file, the
// driver that keeps long lines intact when read back) so Attach can follow it
// again from any line; rotation leaves room for 2.5 times the output limit
// including the driver's JSON overhead.
func logConfig(outputLimit int64) container.LogConfig {
	size := max(outputLimit/2, 1<<20)
	return container.LogConfig{Type: "json-file", Config: map[string]string{
		"max-size": strconv.FormatInt(size, 10),
		"max-file": "5",
		"compress": "false",
	}}
}

func graceSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}

// create creates the container, replacing a dead one of the same name. A
// running one is a Conflict: one live container per workspace.
func (m *Manager) create(ctx context.Context, opts client.ContainerCreateOptions, workspaceID string) (string, error) {
	for attempt := 0; ; attempt++ {
		res, err := m.docker.ContainerCreate(ctx, opts)
		if err == nil {
			for _, w := range res.Warnings {
				m.log.Warn("docker engine warning on create", zap.String("workspace_id", workspaceID),
					zap.String("container_id", res.ID), zap.String("warning", w))
			}
			return res.ID, nil
		}
		if !errdefs.IsConflict(err) || attempt > 0 {
			return "", fmt.Errorf("create sandbox container %s: %w", opts.Name, err)
		}
		old, ierr := m.docker.ContainerInspect(ctx, opts.Name, client.ContainerInspectOptions{})
		if ierr != nil {
			return "", fmt.Errorf("create sandbox container %s: %w", opts.Name, err)
		}
		live := old.Container.State != nil && (old.Container.State.Running || old.Container.State.Restarting || old.Container.State.Paused)
		if live && !m.orphanedBox(old.Container.ID, old.Container.Config) {
			return "", fmt.Errorf("workspace %s already has a live sandbox %s: %w", workspaceID, shortID(old.Container.ID), errdefs.ErrConflict)
		}
		m.log.Info("removing dead or orphaned sandbox container", zap.String("workspace_id", workspaceID),
			zap.String("container_id", old.Container.ID), zap.Bool("running", live))
		if rerr := m.remove(ctx, old.Container.ID); rerr != nil {
			return "", rerr
		}
	}
}

// verifyLimits reads back what the engine stored and refuses a container
// whose limits it silently dropped or changed.
func (m *Manager) verifyLimits(ctx context.Context, id string) error {
	res, err := m.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect new sandbox %s: %w", shortID(id), err)
	}
	h, sc := res.Container.HostConfig, m.cfg.Sandbox
	if h == nil {
		return fmt.Errorf("inspect new sandbox %s: no host config: %w", shortID(id), errdefs.ErrUnknown)
	}
	var problems []string
	if h.Memory != int64(sc.Memory) {
		problems = append(problems, fmt.Sprintf("memory %d, want %d", h.Memory, int64(sc.Memory)))
	}
	if h.MemorySwap != int64(sc.Memory) {
		problems = append(problems, fmt.Sprintf("memory+swap %d, want %d (no swap accounting?)", h.MemorySwap, int64(sc.Memory)))
	}
	if h.PidsLimit == nil || *h.PidsLimit != sc.Pids {
		problems = append(problems, fmt.Sprintf("pids limit dropped, want %d", sc.Pids))
	}
	if h.NanoCPUs != int64(math.Round(sc.CPUs*1e9)) {
		problems = append(problems, fmt.Sprintf("cpus %d nano, want %v", h.NanoCPUs, sc.CPUs))
	}
	if !h.ReadonlyRootfs || h.Privileged || len(h.CapAdd) > 0 {
		problems = append(problems, "hardening changed (read-only root, privileged, capabilities)")
	}
	if len(problems) > 0 {
		return fmt.Errorf("the docker engine did not keep the sandbox limits: %v: %w", problems, errdefs.ErrNotImplemented)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
