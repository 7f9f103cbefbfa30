package conversation

import (
	"context"
	"fmt"
	stdsync "sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/version"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Sink takes what turns produce, in order; Send returns once the items are durable.
type Sink interface {
	Send(ctx context.Context, items ...reporter.Item) error
}

// sandboxes is what the manager needs of the sandbox engine.
type sandboxes interface {
	Run(ctx context.Context, s sandbox.Spec) (*sandbox.Run, error)
	Attach(ctx context.Context, containerID string, skipLines int64) (*sandbox.Run, error)
	Leftovers() []sandbox.Leftover
	RemoveWorkspace(ctx context.Context, workspaceID string) error
	Remove(ctx context.Context, containerID, messageID string) error
	RemoveTree(ctx context.Context, path string) error
	PrepareDir(path string) error
}

// workspaces is what the manager needs of the repository manager.
type workspaces interface {
	Lock(ctx context.Context, id string) (func(), error)
	Prepare(ctx context.Context, id string, repo workspace.Repository) (workspace.Checkout, error)
	PrepareLocal(ctx context.Context, id, path, ref string) (workspace.Checkout, error)
	Delete(ctx context.Context, id string, remover workspace.Remover) error
}

// Params are the manager's dependencies.
type Params struct {
	Config     *config.Config
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	Sink       Sink
	Sandboxes  sandboxes
	Workspaces workspaces
	// Gate opens each turn's model relay (package relay). Nil: sandboxes get
	// no network and no model access.
	Gate modelGate
	// Disk limits (package disk): the watcher, the volumes freed on delete and
	// the free-space gate queued turns wait at. Each may be nil.
	Disk    diskWatch
	Volumes diskVolumes
	Floor   turnGate
}

// Manager schedules and runs turns.
type Manager struct {
	cfg     *config.Config
	log     *zap.Logger
	sink    Sink
	sb      sandboxes
	ws      workspaces
	store   *store
	metrics *metrics
	gate    modelGate
	disk    diskWatch
	volumes diskVolumes
	floor   turnGate
	writes  writeHealth // durable.go

	mu       stdsync.Mutex
	pending  []*turnState          // queued turns, arrival order
	active   map[string]*turnState // running (or preparing) turn by workspace
	byMsg    map[string]*turnState // every known turn by message id
	deleting map[string]int        // workspaces being deleted: deletions under way
	stopping bool
	order    uint64 // the last Turn.Order given

	ctx    context.Context // parent of every turn; cancelled last in Stop
	cancel context.CancelFunc
	wg     stdsync.WaitGroup
}

// New opens the turn store; nothing runs until Start.
func New(p Params) (*Manager, error) {
	st, err := openStore(p.Config.DataDir)
	if err != nil {
		return nil, err
	}
	met, err := newMetrics(p.Registerer)
	if err != nil {
		st.close()
		return nil, err
	}
	m := &Manager{
		cfg: p.Config, log: p.Logger, sink: p.Sink, sb: p.Sandboxes, ws: p.Workspaces, store: st, metrics: met,
		gate: p.Gate,
		disk: p.Disk, volumes: p.Volumes, floor: p.Floor,
		active:   map[string]*turnState{},
		byMsg:    map[string]*turnState{},
		deleting: map[string]int{},
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Start recovers the turns an earlier run left: re-attaches to sandboxes still
// running, answers those whose sandbox is gone, and queues the rest again.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.recover(ctx); err != nil {
		return fmt.Errorf("recover unfinished turns: %w", err)
	}
	m.pump()
	return nil
}

// Stop stops taking turns, lets running turns finish while ctx allows (keeping
// time to stop them and deliver their answer), then stops them with -32006.
// Queued turns stay in the store and run after the next start.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	m.stopping = true
	running := len(m.active)
	m.mu.Unlock()
	if running > 0 {
		m.log.Info("waiting for running turns", zap.Int("running", running))
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()

	var stopAt <-chan time.Time
	if deadline, ok := ctx.Deadline(); ok {
		reserve := m.cfg.Sandbox.StopGrace + 5*time.Second
		if total := time.Until(deadline); reserve > total/2 {
			reserve = total / 2
		}
		stopAt = time.After(time.Until(deadline) - reserve)
	}
	select {
	case <-done:
	case <-stopAt:
		m.log.Warn("shutdown timeout near, stopping running turns")
		m.stopAll(causeShutdown, "stopped: runner shutting down")
		select {
		case <-done:
		case <-ctx.Done():
		}
	case <-ctx.Done():
		m.stopAll(causeShutdown, "stopped: runner shutting down")
	}
	m.cancel()
	return m.store.close()
}

// Status is the runner's load for runner.ping and runner.heartbeat.
func (m *Manager) Status() rpc.RunnerStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	active := 0
	for _, t := range m.active {
		if !t.answered() { // an answered turn only removes its sandbox
			active++
		}
	}
	return rpc.RunnerStatus{RunnerID: m.cfg.RunnerID, Version: version.Version,
		Active: active, Queued: len(m.pending), Capacity: m.cfg.MaxConcurrent, Tokens: m.runningTokens()}
}

func (m *Manager) stopAll(cause stopCause, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.active {
		t.stop(cause, reason)
	}
}
