package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// Attach follows a container of this runner again, typically a Leftover
// after a restart: its output is read back from the engine's log from the
// start, the first skipLines lines are dropped and the rest delivered, so a
// caller that had delivered skipLines lines neither loses nor repeats one.
// The turn's deadline and the output limit still apply (counted from the
// start), and the Status and removal work as for Run. A container of another
// runner is NotFound; one this manager already follows is a Conflict.
func (m *Manager) Attach(ctx context.Context, containerID string, skipLines int64) (*Run, error) {
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if !started {
		return nil, errNotStarted
	}
	if skipLines < 0 {
		return nil, fmt.Errorf("attach: skip %d lines: %w", skipLines, errdefs.ErrInvalidArgument)
	}
	res, err := m.docker.ContainerInspect(ctx, containerID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("attach to sandbox %s: %w", containerID, err)
	}
	c := res.Container
	if c.Config == nil || c.Config.Labels[LabelManaged] != "true" || c.Config.Labels[LabelRunnerID] != m.cfg.RunnerID {
		return nil, fmt.Errorf("attach: container %s is not a sandbox of runner %s: %w", containerID, m.cfg.RunnerID, errdefs.ErrNotFound)
	}
	lbl := c.Config.Labels
	timeout, err := time.ParseDuration(lbl[labelTimeout])
	if err != nil || timeout <= 0 {
		timeout = m.cfg.TurnTimeout
	}
	deadline, err := time.Parse(time.RFC3339Nano, lbl[labelDeadline])
	if err != nil {
		deadline = time.Now().Add(timeout)
	}
	ws, msg := lbl[LabelWorkspaceID], lbl[LabelMessageID]
	if lbl[labelKeeper] == "true" {
		return m.attachKept(c.ID, ws, msg, lbl[labelSpecHash], skipLines)
	}
	r, err := m.reserve(ws, func() *Run {
		r := m.newRun(c.ID, ws, msg, timeout, deadline, skipLines)
		r.keep = lbl[labelKeep] == "true"
		return r
	})
	if err != nil {
		return nil, err
	}
	waitCtx, cancelWait := context.WithCancel(context.Background())
	logs, err := m.docker.ContainerLogs(waitCtx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		cancelWait()
		m.release(ws, r)
		return nil, fmt.Errorf("attach to sandbox %s: read its log: %w", shortID(c.ID), err)
	}
	wait := m.docker.ContainerWait(waitCtx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	m.dropLeftover(c.ID)
	m.log.Info("sandbox re-attached", zap.String("workspace_id", ws), zap.String("message_id", msg),
		zap.String("container_id", c.ID), zap.Int64("skip_lines", skipLines), zap.Time("deadline", deadline))
	m.follow(r, logs, func() { defer cancelWait(); r.supervise(wait) })
	return r, nil
}
