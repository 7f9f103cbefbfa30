package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// Leftover is a container of this runner found at start that may still hold
// a turn's output: running (the turn outlived the previous runner process) or
// exited (it finished while no runner was reading). Attach follows it again
// (an exited one is read to its end); RemoveWorkspace removes it.
type Leftover struct {
	ContainerID string
	WorkspaceID string
	MessageID   string
	Labels      map[string]string
	State       string
}

// Leftovers returns the containers of this runner that were running or had
// exited at start and are not followed or removed since.
func (m *Manager) Leftovers() []Leftover {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Leftover(nil), m.leftovers...)
}

// list returns this runner's containers, all states, optionally of one workspace.
func (m *Manager) list(ctx context.Context, workspaceID string) ([]container.Summary, error) {
	f := client.Filters{}.Add("label", LabelManaged+"=true", LabelRunnerID+"="+m.cfg.RunnerID)
	if workspaceID != "" {
		f = f.Add("label", LabelWorkspaceID+"="+workspaceID)
	}
	res, err := m.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list sandbox containers: %w", err)
	}
	return res.Items, nil
}

// reconcile finds the containers a previous run of this runner left: those
// of a turn, running or exited, become Leftovers (their output can still be
// read); the others (never started, dead, or no turn's) are removed.
func (m *Manager) reconcile(ctx context.Context) error {
	items, err := m.list(ctx, "")
	if err != nil {
		return err
	}
	var left []Leftover
	var errs []error
	for _, c := range items {
		live := c.State == container.StateRunning || c.State == container.StatePaused || c.State == container.StateRestarting
		readable := live || c.State == container.StateExited
		switch {
		case readable && c.Labels[LabelWorkspaceID] != "" && c.Labels[LabelMessageID] != "":
			l := Leftover{ContainerID: c.ID, WorkspaceID: c.Labels[LabelWorkspaceID], MessageID: c.Labels[LabelMessageID],
				Labels: c.Labels, State: string(c.State)}
			if c.Labels[labelKeeper] == "true" {
				l.MessageID = m.keptLeftoverMessage(l.WorkspaceID, l.MessageID)
			}
			left = append(left, l)
			m.log.Info("sandbox left by a previous run", zap.String("workspace_id", l.WorkspaceID),
				zap.String("message_id", l.MessageID), zap.String("container_id", c.ID), zap.String("state", l.State))
		default:
			m.log.Info("removing dead sandbox container", zap.String("workspace_id", c.Labels[LabelWorkspaceID]),
				zap.String("container_id", c.ID), zap.String("state", string(c.State)))
			if err := m.remove(ctx, c.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	m.mu.Lock()
	m.leftovers = left
	m.mu.Unlock()
	return errors.Join(errs...)
}

// remove force-removes a container. A removal already in progress (the
// engine goes on with one whose caller died: a runner killed while it
// removed a kept sandbox) is waited for.
func (m *Manager) remove(ctx context.Context, id string) error {
	_, err := m.docker.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if errdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress") {
		err = m.waitGone(ctx, id)
	}
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove sandbox container %s: %w", shortID(id), err)
	}
	return nil
}

// waitGone waits until the engine no longer knows the container.
func (m *Manager) waitGone(ctx context.Context, id string) error {
	for wait := 5 * time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		_, err := m.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return err // NotFound: gone
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for its removal in progress: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
}

// Remove ends turn messageID's hold on its container: the caller of a
// Spec.Keep run, once it has recorded how the run ended. A container of its
// own is removed; a kept sandbox waits for the workspace's next turn
// (releaseBox). A kept sandbox that serves another turn since (after a
// restart a recovered turn can be answered while the workspace's next turn
// re-attaches to the same container) is left to that turn. A container that
// is already gone is no error.
func (m *Manager) Remove(ctx context.Context, containerID, messageID string) error {
	if b := m.boxByID(containerID); b != nil {
		if b.msg != messageID {
			m.log.Debug("kept sandbox serves another turn; not removed", zap.String("container_id", containerID),
				zap.String("message_id", messageID), zap.String("serves", b.msg))
			return nil
		}
		return m.releaseBox(b)
	}
	if l, ok := m.leftover(containerID); ok && l.Labels[labelKeeper] == "true" && l.MessageID != messageID {
		m.log.Debug("kept sandbox left by the last run serves another turn; not removed", zap.String("container_id", containerID),
			zap.String("message_id", messageID), zap.String("serves", l.MessageID))
		return nil
	}
	if err := m.remove(ctx, containerID); err != nil {
		return err
	}
	m.dropLeftover(containerID)
	return nil
}

func (m *Manager) leftover(id string) (Leftover, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.leftovers {
		if l.ContainerID == id {
			return l, true
		}
	}
	return Leftover{}, false
}

func (m *Manager) dropLeftover(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.leftovers[:0]
	for _, l := range m.leftovers {
		if l.ContainerID != id {
			out = append(out, l)
		}
	}
	m.leftovers = out
}

// RemoveWorkspace stops and removes the workspace's container, if any: a run
// this manager follows is cancelled (SIGTERM, grace, SIGKILL) and waited
// for, bounded by ctx; any other container of the workspace is removed.
func (m *Manager) RemoveWorkspace(ctx context.Context, workspaceID string) error {
	m.mu.Lock()
	r := m.live[workspaceID]
	m.mu.Unlock()
	if r != nil {
		r.Cancel("workspace removed")
		// Nobody may be reading the lines any more: drain them so the run can end.
		go func() {
			for range r.Lines() {
			}
		}()
		select {
		case <-r.Done():
		case <-ctx.Done():
			return fmt.Errorf("remove workspace %s sandbox: %w", workspaceID, ctx.Err())
		}
	}
	m.forgetWorkspaceBox(workspaceID)
	items, err := m.list(ctx, workspaceID)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range items {
		m.log.Info("removing workspace sandbox", zap.String("workspace_id", workspaceID), zap.String("container_id", c.ID))
		if err := m.remove(ctx, c.ID); err != nil {
			errs = append(errs, err)
		}
		m.dropLeftover(c.ID)
	}
	return errors.Join(errs...)
}
