package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// Labels of a kept sandbox.
const (
	labelKeeper   = "dev.claudette.keeper"    // "true": the container's process is the keeper
	labelSpecHash = "dev.claudette.spec-hash" // specHash of what it was started with
)

// Why a kept sandbox was removed (the evictions metric's reason).
const (
	evictIdle      = "idle"       // idle for sandbox.idle
	evictSettings  = "settings"   // the next turn needs other settings, image or mounts
	evictLost      = "lost"       // its keeper cannot be reached (removed, died, engine restarted)
	evictDeleted   = "deleted"    // workspace.delete
	evictShutdown  = "shutdown"   // a graceful stop of the runner
	evictAfterTurn = "after-turn" // sandbox.idle is 0
	evictUnhealthy = "unhealthy"  // the runner had to stop the container itself
)

type boxState int

const (
	boxBusy boxState = iota // a turn runs (or was followed) in it
	boxHeld                 // its turn ended, the caller has not released it yet (Spec.Keep)
	boxIdle                 // waiting for the workspace's next turn
)

// box is a kept sandbox: a container whose process is the keeper.
type box struct {
	id, ws, hash string
	msg          string // the message of the turn it runs or ran last
	state        boxState
	healthy      bool
	timer        *time.Timer
}

// runKept runs a turn in the workspace's kept sandbox: the idle one when it
// was started with the same settings (warm), else a new one (cold). A warm
// sandbox whose keeper does not start the turn is removed and the turn
// starts cold once more, unless its output shows it had begun.
func (m *Manager) runKept(ctx context.Context, s Spec, image string, timeout time.Duration, deadline time.Time) (*Run, error) {
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
	hash, err := m.specHash(ctx, &s, image)
	if err != nil {
		return nil, err
	}
	// ownSandbox runs the turn in a container of its own instead: what a
	// keeper that cannot work here (the runtime, a tiny process limit)
	// leaves, so the turn fails or succeeds as it would without keeping.
	ownSandbox := func() (*Run, error) {
		m.release(s.WorkspaceID, r)
		ok = true
		s.Keeper = nil
		return m.Run(ctx, s)
	}
	b := m.takeBox(ctx, s.WorkspaceID, hash)
	warm := b != nil
	for {
		if b == nil {
			if b, err = m.startBox(ctx, &s, image, hash, timeout, deadline); err != nil {
				if errors.Is(err, errKeeperStart) {
					// The runtime cannot carry the keeper (gVisor cannot listen
					// on a host socket): every turn gets a container of its own.
					m.keeperOff.Store(true)
					m.log.Warn("sandboxes cannot be kept warm with this runtime; each turn gets a new sandbox", zap.Error(err))
					return ownSandbox()
				}
				return nil, err
			}
		}
		err = m.startKeptTurn(ctx, r, b, &s)
		if err == nil {
			break
		}
		lost := errors.Is(err, errKeeperLost)
		if lost {
			err = fmt.Errorf("%w (%s)", err, m.keeperWords(b.id))
		}
		m.log.Warn("kept sandbox cannot start the turn", zap.String("workspace_id", s.WorkspaceID),
			zap.String("container_id", b.id), zap.Bool("warm", warm), zap.Error(err))
		m.evict(b, evictLost)
		started := m.turnOutput(s.WorkspaceID, turnName(s.MessageID))
		switch {
		case warm && !started:
			warm, b = false, nil // once more, cold
		case lost && !warm && !started:
			// The keeper of a new sandbox died starting the turn (the Go
			// runtime of the keeper cannot get a thread under a small
			// process limit, say) before the agent wrote anything.
			m.log.Warn("the turn gets a sandbox of its own", zap.String("workspace_id", s.WorkspaceID), zap.Error(err))
			return ownSandbox()
		default:
			return nil, fmt.Errorf("start the turn in sandbox %s: %w", shortID(b.id), err)
		}
	}
	ok = true
	kind := "cold"
	if warm {
		kind = "warm"
	}
	m.metrics.starts.WithLabelValues(kind).Inc()
	crashpoint.Hit(crashpoint.SandboxStarted)
	m.log.Info("sandbox turn started", zap.String("workspace_id", s.WorkspaceID), zap.String("message_id", s.MessageID),
		zap.String("container_id", b.id), zap.String("start", kind), zap.Duration("timeout", timeout))
	m.followKept(r, b)
	return r, nil
}

// takeBox returns the workspace's kept sandbox for a turn with hash, marked
// busy; one started otherwise is removed first.
func (m *Manager) takeBox(ctx context.Context, workspaceID, hash string) *box {
	m.mu.Lock()
	b := m.boxes[workspaceID]
	if b == nil || b.state == boxBusy {
		m.mu.Unlock()
		return nil
	}
	m.unpark(b)
	b.state = boxBusy
	m.mu.Unlock()
	if b.hash != hash || !b.healthy {
		reason := evictSettings
		if !b.healthy {
			reason = evictUnhealthy
		}
		m.evict(b, reason)
		return nil
	}
	return b // a keeper that does not answer the turn's run request is evicted then (runKept)
}

// startBox creates and starts a kept sandbox for the spec (same limits,
// hardening, mounts and labels as any sandbox) with the keeper as its
// process and the keeper dir mounted, and waits for the keeper to answer.
func (m *Manager) startBox(ctx context.Context, s *Spec, image, hash string, timeout time.Duration, deadline time.Time) (*box, error) {
	kdir, err := m.keeperHostDir(s.WorkspaceID)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(kdir, KeeperSocket))
	ks := *s
	ks.Cmd, ks.Env, ks.Stdin, ks.StdinFile = s.Keeper, nil, nil, ""
	if m.cfg.Sandbox.Idle <= 0 {
		ks.Env = []string{keeperOnceEnv + "=1"}
	}
	ks.Mounts = append(slices.Clone(s.Mounts), Mount{Source: kdir, Target: KeeperDir})
	opts := m.createOptions(&ks, image, timeout, deadline)
	opts.Config.OpenStdin, opts.Config.StdinOnce, opts.Config.AttachStdin = false, false, false
	opts.Config.Labels[labelKeeper] = "true"
	opts.Config.Labels[labelSpecHash] = hash
	id, err := m.create(ctx, opts, s.WorkspaceID)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*box, error) {
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if rerr := m.remove(rctx, id); rerr != nil {
			m.log.Error("remove failed sandbox container", zap.String("workspace_id", s.WorkspaceID), zap.String("container_id", id), zap.Error(rerr))
		}
		return nil, err
	}
	if err := m.verifyLimits(ctx, id); err != nil {
		return fail(err)
	}
	waitCtx, cancelWait := context.WithCancel(context.Background())
	defer cancelWait()
	exited := make(chan struct{})
	wait := m.docker.ContainerWait(waitCtx, id, waitOptions())
	go func() {
		select {
		case <-wait.Result:
			close(exited)
		case <-wait.Error:
		}
	}()
	appeared, unwatch, err := m.notify.watch(kdir, inotifyCreate)
	if err != nil {
		unwatch = func() {}
	}
	defer unwatch()
	unstage := m.stageNosuid(&ks)
	_, err = m.docker.ContainerStart(ctx, id, startOptions())
	unstage()
	if err != nil {
		return fail(fmt.Errorf("start sandbox for workspace %s: %w", s.WorkspaceID, err))
	}
	if err := m.waitKeeperReady(ctx, s.WorkspaceID, appeared, exited); err != nil {
		return fail(fmt.Errorf("sandbox for workspace %s: %w: %w (%s)", s.WorkspaceID, errKeeperStart, err, m.keeperWords(id)))
	}
	b := &box{id: id, ws: s.WorkspaceID, hash: hash, state: boxBusy, healthy: true}
	m.mu.Lock()
	m.boxes[s.WorkspaceID] = b
	m.mu.Unlock()
	m.log.Info("kept sandbox started", zap.String("workspace_id", s.WorkspaceID), zap.String("container_id", id), zap.String("image", image))
	return b, nil
}

// orphanedBox reports whether a running container is a kept sandbox of
// this runner that nothing follows: no run of this manager, no kept sandbox
// it knows. The workspace's next turn may then remove it to start its own:
// the conversation starts a turn of a workspace only when no other turn of
// it runs or is being taken up after a restart, so a leftover of the
// workspace still here then is one that nothing took up.
func (m *Manager) orphanedBox(id string, cfg *container.Config) bool {
	if cfg == nil || cfg.Labels[labelKeeper] != "true" || cfg.Labels[LabelRunnerID] != m.cfg.RunnerID {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.live {
		if r.id == id {
			return false
		}
	}
	for _, b := range m.boxes {
		if b.id == id {
			return false
		}
	}
	m.log.Warn("a kept sandbox nothing follows holds the workspace's name; removing it", zap.String("container_id", id))
	return true
}

// boxByID is the kept sandbox with that container id, if any.
func (m *Manager) boxByID(id string) *box {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.boxes {
		if b.id == id {
			return b
		}
	}
	return nil
}

// releaseBox ends a kept sandbox's turn for good (the caller recorded it):
// it waits for the workspace's next turn for sandbox.idle, or is removed
// (idle 0, unhealthy, the manager stopping).
func (m *Manager) releaseBox(b *box) error {
	idle := m.cfg.Sandbox.Idle
	m.mu.Lock()
	if m.boxes[b.ws] != b || b.state == boxIdle {
		m.mu.Unlock()
		return nil
	}
	park := idle > 0 && b.healthy && m.started && b.state == boxHeld
	if park {
		b.state = boxIdle
		m.metrics.idle.Inc()
		b.timer = time.AfterFunc(idle, func() { m.evictIfIdle(b) })
	}
	m.mu.Unlock()
	m.removeTurnFiles(b.ws)
	if park {
		m.log.Debug("sandbox idle", zap.String("workspace_id", b.ws), zap.String("container_id", b.id), zap.Duration("for", idle))
		return nil
	}
	reason := evictAfterTurn
	if !b.healthy {
		reason = evictUnhealthy
	} else if !m.isStarted() {
		reason = evictShutdown
	}
	return m.evict(b, reason)
}

func (m *Manager) isStarted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.started
}

func (m *Manager) evictIfIdle(b *box) {
	m.mu.Lock()
	idle := m.boxes[b.ws] == b && b.state == boxIdle
	m.mu.Unlock()
	if idle {
		_ = m.evict(b, evictIdle)
	}
}

// evict forgets a kept sandbox and removes its container.
func (m *Manager) evict(b *box, reason string) error {
	m.mu.Lock()
	if m.boxes[b.ws] == b {
		delete(m.boxes, b.ws)
	}
	m.unpark(b)
	m.mu.Unlock()
	m.metrics.evictions.WithLabelValues(reason).Inc()
	m.log.Info("removing kept sandbox", zap.String("workspace_id", b.ws), zap.String("container_id", b.id), zap.String("reason", reason))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m.dropLeftover(b.id)
	return m.remove(ctx, b.id)
}

// unpark ends a kept sandbox's idle wait (its timer, the idle gauge), if it
// waits. Caller holds m.mu.
func (m *Manager) unpark(b *box) {
	if b.timer != nil {
		b.timer.Stop()
	}
	if b.state == boxIdle {
		m.metrics.idle.Dec()
		b.state = boxHeld
	}
}

// evictIdleBoxes removes every idle kept sandbox (a graceful stop).
func (m *Manager) evictIdleBoxes() {
	m.mu.Lock()
	var idle []*box
	for _, b := range m.boxes {
		if b.state == boxIdle {
			idle = append(idle, b)
		}
	}
	m.mu.Unlock()
	for _, b := range idle {
		if err := m.evict(b, evictShutdown); err != nil {
			m.log.Warn("cannot remove an idle sandbox", zap.String("workspace_id", b.ws), zap.Error(err))
		}
	}
}

// forgetWorkspaceBox drops a workspace's kept sandbox and its host
// directory (workspace.delete): the container itself goes with the
// workspace's other containers.
func (m *Manager) forgetWorkspaceBox(workspaceID string) {
	m.mu.Lock()
	b := m.boxes[workspaceID]
	if b != nil {
		delete(m.boxes, workspaceID)
		m.unpark(b)
	}
	m.mu.Unlock()
	if b != nil {
		m.metrics.evictions.WithLabelValues(evictDeleted).Inc()
	}
	if err := os.RemoveAll(m.boxDir(workspaceID)); err != nil {
		m.log.Warn("cannot remove the workspace's sandbox dir", zap.String("workspace_id", workspaceID), zap.Error(err))
	}
}

var (
	// errKeeperStart: a new kept sandbox's keeper did not start.
	errKeeperStart = errors.New("the keeper did not start")
	// errKeeperLost: the keeper did not answer a request (it died, or its
	// container is gone).
	errKeeperLost = errors.New("the sandbox's keeper is lost")
)

// keeperWords is what a kept sandbox's keeper said before it ended, for an
// error: the first lines of a Go runtime failure ("runtime: failed to create
// new OS thread", "fatal error: …") or of the keeper's own error when its
// log has them, else the log's last line.
func (m *Manager) keeperWords(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := m.docker.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "200"})
	if err != nil {
		return "no log"
	}
	defer rc.Close()
	var out strings.Builder
	_, _ = stdcopy.StdCopy(&out, &out, io.LimitReader(rc, 64<<10))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var said []string
	for _, l := range lines {
		if strings.HasPrefix(l, "runtime: ") || strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, keeperErrorPrefix) {
			said = append(said, l)
		}
	}
	if len(said) == 0 {
		said = lines[len(lines)-1:]
	}
	return strings.Join(said[:min(len(said), 3)], "; ")
}
