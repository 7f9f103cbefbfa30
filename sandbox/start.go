package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// Run starts a container for the spec and follows it. The prompt in
// s.Stdin is written to the process's stdin, which is then closed (or the
// process reads s.StdinFile, which survives a crash of the runner). A
// workspace that already has a live container gets a Conflict-class error;
// an invalid spec an InvalidArgument-class one.
func (m *Manager) Run(ctx context.Context, s Spec) (*Run, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if err := checkNetwork(&s); err != nil {
		return nil, err
	}
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if !started {
		return nil, errNotStarted
	}
	image := s.Image
	if image == "" {
		image = m.cfg.Sandbox.Image
	}
	_, err := m.imageChecks.do(ctx, image, func() (struct{}, error) { return struct{}{}, m.images.EnsurePresent(ctx, image) })
	if err != nil {
		return nil, fmt.Errorf("sandbox for workspace %s: %w", s.WorkspaceID, err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = m.cfg.TurnTimeout
	}
	deadline := time.Now().Add(timeout)
	if len(s.Keeper) > 0 && !m.keeperOff.Load() {
		return m.runKept(ctx, s, image, timeout, deadline)
	}

	r, err := m.reserveSpec(&s, timeout, deadline)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			m.release(s.WorkspaceID, r)
		}
	}()

	opts := m.createOptions(&s, image, timeout, deadline)
	id, err := m.create(ctx, opts, s.WorkspaceID)
	if err != nil {
		return nil, err
	}
	r.id = id
	removeOnError := func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := m.remove(rctx, id); err != nil {
			m.log.Error("remove failed sandbox container", zap.String("workspace_id", s.WorkspaceID), zap.String("container_id", id), zap.Error(err))
		}
	}
	if err := m.verifyLimits(ctx, id); err != nil {
		removeOnError()
		return nil, err
	}
	stdin := s.StdinFile == ""
	att, err := m.docker.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: stdin, Stdout: true, Stderr: true})
	if err != nil {
		removeOnError()
		return nil, fmt.Errorf("attach to sandbox %s: %w", shortID(id), err)
	}
	waitCtx, cancelWait := context.WithCancel(context.Background())
	wait := m.docker.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: waitCondition})
	unstage := m.stageNosuid(&s)
	_, err = m.docker.ContainerStart(ctx, id, client.ContainerStartOptions{})
	unstage() // the started sandbox keeps its own copy of the nosuid,nodev binds
	if err != nil {
		cancelWait()
		att.Close()
		removeOnError()
		return nil, fmt.Errorf("start sandbox for workspace %s: %w", s.WorkspaceID, err)
	}
	ok = true
	crashpoint.Hit(crashpoint.SandboxStarted)
	m.log.Info("sandbox started", zap.String("workspace_id", s.WorkspaceID), zap.String("message_id", s.MessageID),
		zap.String("container_id", id), zap.String("image", image), zap.Duration("timeout", timeout), zap.Int("stdin_bytes", len(s.Stdin)))
	if stdin {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.writeStdin(att, s.Stdin, s.WorkspaceID)
		}()
	}
	m.follow(r, attachReader{att}, func() { defer cancelWait(); r.supervise(wait) })
	return r, nil
}

// writeStdin writes the prompt and closes the container's stdin (StdinOnce).
func (m *Manager) writeStdin(att client.ContainerAttachResult, data []byte, workspaceID string) {
	if len(data) > 0 {
		if _, err := att.Conn.Write(data); err != nil {
			m.log.Warn("write sandbox stdin", zap.String("workspace_id", workspaceID), zap.Error(err))
		}
	}
	if err := att.CloseWrite(); err != nil {
		m.log.Warn("close sandbox stdin", zap.String("workspace_id", workspaceID), zap.Error(err))
	}
}

// attachReader reads the hijacked attach connection and closes it.
type attachReader struct{ att client.ContainerAttachResult }

func (a attachReader) Read(p []byte) (int, error) { return a.att.Reader.Read(p) }
func (a attachReader) Close() error               { a.att.Close(); return nil }

// reserveSpec claims the spec's workspace for a new run of it (reserve).
func (m *Manager) reserveSpec(s *Spec, timeout time.Duration, deadline time.Time) (*Run, error) {
	return m.reserve(s.WorkspaceID, func() *Run {
		r := m.newRun("", s.WorkspaceID, s.MessageID, timeout, deadline, 0)
		r.keep = s.Keep
		return r
	})
}

// reserve claims a workspace for a new run; a workspace this manager already
// follows is a Conflict.
func (m *Manager) reserve(workspaceID string, mk func() *Run) (*Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.live[workspaceID]; ok {
		return nil, fmt.Errorf("workspace %s already has a live sandbox %s: %w", workspaceID, shortID(cur.id), errdefs.ErrConflict)
	}
	r := mk()
	m.live[workspaceID] = r
	return r, nil
}

func (m *Manager) release(workspaceID string, r *Run) {
	m.mu.Lock()
	if m.live[workspaceID] == r {
		delete(m.live, workspaceID)
	}
	m.mu.Unlock()
}
