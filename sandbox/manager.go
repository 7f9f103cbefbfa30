package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/claudette-dev/claudette-runner/images"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// HealthComponent is the name of the sandbox engine in /readyz.
const HealthComponent = "sandbox"

// healthEvery is how often a started manager pings the engine for /readyz.
const healthEvery = 15 * time.Second

// Params builds a Manager. Only Config is required: a nil Docker client is
// created from the environment (DOCKER_HOST...), nil Images from the
// configuration, nil Logger, Metrics or Health do nothing.
type Params struct {
	Config  *config.Config
	Logger  *zap.Logger
	Metrics prometheus.Registerer
	Health  *health.Registry
	Docker  *client.Client
	Images  *images.Store
}

// Manager runs sandbox containers for one runner on one Docker engine.
type Manager struct {
	cfg     *config.Config
	log     *zap.Logger
	docker  *client.Client
	ownsCli bool
	images  *images.Store
	metrics *metrics
	health  *health.Component
	user    string // uid:gid
	uid     int
	gid     int

	mu        sync.Mutex
	caps      Capabilities
	started   bool
	live      map[string]*Run // by workspace id: runs this manager follows
	boxes     map[string]*box // by workspace id: kept sandboxes (warm.go)
	leftovers []Leftover

	nosuidWarn sync.Once   // the warning that writable binds cannot be nosuid,nodev
	keeperOff  atomic.Bool // the runtime cannot run kept sandboxes (warm.go)
	notify     notifier    // kept sandboxes' files and keeper dirs (notify.go)

	// The engine's answers about an image, shared by the turns that ask at
	// once (flight.go): its presence (images), its id (specHash).
	imageChecks flight[struct{}]
	imageIDs    flight[string]

	cancel context.CancelFunc // stops the health loop
	wg     sync.WaitGroup     // health loop and every run's goroutines
}

// New builds a Manager; it touches the engine only in Start.
func New(p Params) (*Manager, error) {
	if p.Config == nil {
		return nil, errors.New("sandbox: config is required")
	}
	uid, gid, err := config.ParseUser(p.Config.Sandbox.User)
	if err != nil {
		return nil, fmt.Errorf("sandbox user: %w", err)
	}
	if uid == 0 {
		return nil, errors.New("sandbox user: the sandbox never runs as root (uid 0)")
	}
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	m := &Manager{cfg: p.Config, log: log, docker: p.Docker, images: p.Images,
		user: strconv.Itoa(uid) + ":" + strconv.Itoa(gid), uid: uid, gid: gid, live: map[string]*Run{}, boxes: map[string]*box{}}
	if m.docker == nil {
		if m.docker, err = NewClient(); err != nil {
			return nil, err
		}
		m.ownsCli = true
	}
	if m.images == nil {
		if m.images, err = images.New(images.Params{Config: p.Config, Logger: log, Docker: m.docker}); err != nil {
			return nil, err
		}
	}
	if m.metrics, err = newMetrics(p.Metrics); err != nil {
		return nil, fmt.Errorf("sandbox metrics: %w", err)
	}
	if p.Health != nil {
		m.health = p.Health.Component(HealthComponent)
	}
	return m, nil
}

// NewClient returns a Docker engine client configured from the environment
// (DOCKER_HOST, DOCKER_CERT_PATH...); the client negotiates the API version
// with the engine on first use (the module's default since v0.5).
func NewClient() (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return cli, nil
}

// Check probes the engine and the default image without starting anything:
// what `validate` reports. The error lists every problem.
func (m *Manager) Check(ctx context.Context) (Capabilities, error) {
	caps, err := m.probe(ctx)
	if err != nil {
		return caps, err
	}
	if err := m.checkOwnMounts(ctx); err != nil { // Docker-out-of-Docker: selfcheck.go
		return caps, err
	}
	if err := m.images.EnsurePresent(ctx, m.cfg.Sandbox.Image); err != nil {
		return caps, fmt.Errorf("sandbox image: %w", err)
	}
	return caps, nil
}

// Start probes the engine (a runtime it lacks or limits it cannot enforce
// fail the start), makes sure the sandbox image is there, and reconciles the
// containers a previous run of this runner left: running or exited
// turns become Leftovers, the rest are removed.
func (m *Manager) Start(ctx context.Context) error {
	m.setNotReady("starting: probing the docker engine")
	caps, err := m.Check(ctx)
	m.mu.Lock()
	m.caps = caps
	m.mu.Unlock()
	if err != nil {
		m.setNotReady(err.Error())
		return fmt.Errorf("start sandbox engine: %w", err)
	}
	m.log.Info("docker engine can run sandboxes", caps.Fields()...)
	cleanStaleBinds(m.log, m.cfg.WorkspaceDir, m.cfg.DataDir)
	if err := m.reconcile(ctx); err != nil {
		m.setNotReady(err.Error())
		return fmt.Errorf("start sandbox engine: %w", err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	m.mu.Lock()
	m.started, m.cancel = true, cancel
	m.mu.Unlock()
	m.setReady()
	m.wg.Add(1)
	go m.healthLoop(hctx)
	return nil
}

// Stop stops following every run, leaving their containers running for a
// later Attach (cancel runs first to stop them), and waits for the
// manager's goroutines, bounded by ctx.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	m.started = false
	cancel := m.cancel
	runs := make([]*Run, 0, len(m.live))
	for _, r := range m.live {
		runs = append(runs, r)
	}
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	for _, r := range runs {
		r.Detach()
	}
	m.evictIdleBoxes()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("stop sandbox engine: %w", ctx.Err())
	}
	m.setNotReady("stopped")
	m.notify.stop()
	if m.ownsCli {
		_ = m.docker.Close()
	}
	return err
}

// Capabilities returns what the start probe found.
func (m *Manager) Capabilities() Capabilities {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.caps
}

// Docker returns the engine client the manager uses.
func (m *Manager) Docker() *client.Client { return m.docker }

func (m *Manager) healthLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := m.docker.Ping(pctx, client.PingOptions{})
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				m.log.Warn("docker engine unreachable", zap.Error(err))
				m.setNotReady("docker engine unreachable: " + err.Error())
			default:
				m.setReady()
			}
		}
	}
}

func (m *Manager) setReady() {
	if m.health != nil {
		m.health.Ready()
	}
}

func (m *Manager) setNotReady(reason string) {
	if m.health != nil {
		m.health.NotReady(reason)
	}
}
