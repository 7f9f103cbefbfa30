package relay

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// HealthComponent is the relay's name in /readyz.
const HealthComponent = "relay"

// ErrShim marks a shim binary that cannot run in a sandbox: Start fails
// with it, so the runner refuses to start rather than fail every turn.
var ErrShim = errors.New("the sandbox shim cannot start")

// DefaultUpstream is the model API when cfg.Model.BaseURL is empty.
const DefaultUpstream = "https://api.anthropic.com"

// Params builds a Relay. Only Config is required.
type Params struct {
	Config     *config.Config
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	Health     *health.Registry
	// Docker, when set, lets Start check that the configured OCI runtime can
	// connect to bind-mounted Unix sockets (gVisor needs --host-uds=open).
	Docker *client.Client
	// Binary is the static executable that runs sandbox-shim in the sandbox;
	// "" = this process's own executable (the runner).
	Binary string
	// GitTLS, when set, is the TLS configuration the git relay reaches git
	// hosts with (tests trust their test CA with it); nil = the system's.
	GitTLS *tls.Config
}

// Relay opens and closes the per-turn model relay and egress proxy.
type Relay struct {
	cfg      *config.Config
	log      *zap.Logger
	metrics  *metrics
	health   *health.Component
	docker   *client.Client
	binary   string
	upstream *url.URL
	rules    rules
	prices   *Prices     // nil without --model-prices
	dataDir  string      // absolute
	shim     shimInstall // the installed shim, once prepared

	gitTokens    map[string]string // host -> credential (CLAUDETTE_GIT_TOKENS)
	gitTransport http.RoundTripper

	// Test hooks for the egress proxy: how a host name is resolved and how a
	// checked address is dialled. Production uses the system resolver and a
	// plain dialer; the address check between the two cannot be switched off.
	resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)

	mu       sync.Mutex
	setupErr error                 // why turns cannot be opened; nil when ready
	turns    map[string]*turnRelay // open turns by message id
	seen     map[convKey]time.Time // when each conversation's last turn closed (metrics retention)
	orphans  map[string]time.Time  // turn dirs found at start, removed unless re-opened

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Turn names the turn a relay is opened for.
type Turn struct {
	MessageID, WorkspaceID, ConversationID string
	// Token is the turn's token: "" for a new turn (a random one is made); a
	// turn re-attached after a restart passes the token its sandbox holds.
	Token string
	// Git, when set, opens the turn's git relay for the workspace's origin.
	Git *GitRemote
	// Timeout is the turn's timeout. The shim stops the agent itself a little
	// after it (shimDeadline), so the turn ends even when no runner is
	// watching; 0 = no limit in the sandbox.
	Timeout time.Duration
	// Notify adds a runner event (rpc.RunnerEvent) to the turn's stream; it
	// must not block. Nil: events are dropped.
	Notify func(ev json.RawMessage)
	// Meter is the turn's count so far, its conversation's and its budgets
	// (meter.go).
	Meter MeterState
	// SocketDir, when set, is an existing host directory the turn's sockets
	// are made in instead of a directory of its own: the workspace's, the
	// same every turn, so a sandbox kept warm across turns (sandbox.Spec.
	// Keeper) reaches each turn's new sockets. Close removes the sockets,
	// never the directory.
	SocketDir string
}

// notify raises a runner event of the turn, when someone listens.
func (t Turn) notify(ev json.RawMessage) {
	if t.Notify != nil {
		t.Notify(ev)
	}
}

// New checks the configuration; nothing is created before Start.
func New(p Params) (*Relay, error) {
	if p.Config == nil {
		return nil, errors.New("relay: config is required")
	}
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	base := p.Config.Model.BaseURL
	if base == "" {
		base = DefaultUpstream
	}
	up, err := url.Parse(base)
	if err != nil || (up.Scheme != "https" && up.Scheme != "http") || up.Host == "" {
		return nil, fmt.Errorf("relay: model base URL %q is not an http(s) URL", redactURL(base))
	}
	if up.User != nil {
		return nil, fmt.Errorf("relay: the model base URL %s must not hold credentials (use ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN)", redactURL(base))
	}
	dataDir, err := filepath.Abs(p.Config.DataDir)
	if err != nil {
		return nil, fmt.Errorf("relay: data dir: %w", err)
	}
	rs, err := parseRules(p.Config.Sandbox.EgressAllow)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	tokens, err := config.ParseGitTokens(p.Config.Git.Tokens)
	if err != nil {
		return nil, fmt.Errorf("relay: git tokens: %w", err)
	}
	var prices *Prices
	if p.Config.Meter.ModelPrices != "" {
		if prices, err = LoadPrices(p.Config.Meter.ModelPrices); err != nil {
			return nil, fmt.Errorf("relay: %w", err)
		}
	}
	met, err := newMetrics(p.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: p.Config, log: log, metrics: met, docker: p.Docker, binary: p.Binary, upstream: up, rules: rs, prices: prices,
		dataDir: dataDir, turns: map[string]*turnRelay{}, seen: map[convKey]time.Time{}, orphans: map[string]time.Time{},
		setupErr: errors.New("the model relay is not started"), gitTokens: tokens, gitTransport: newGitTransport(p.GitTLS)}
	if p.Health != nil {
		r.health = p.Health.Component(HealthComponent)
	}
	r.resolve = systemResolve
	r.dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return r, nil
}

// Start prepares the shim binary and the run directory and checks the
// runtime. A shim that cannot start (ErrShim) stops the runner: it would fail
// every turn, whatever else is fixed. Any other problem does not: it is
// reported in /readyz and every turn fails closed with it until the next start.
func (r *Relay) Start(ctx context.Context) error {
	err := r.setup(ctx)
	if errors.Is(err, ErrShim) {
		return err
	}
	r.mu.Lock()
	r.setupErr = err
	r.mu.Unlock()
	if err != nil {
		r.log.Error("model relay unavailable; turns will fail until it is fixed", zap.Error(err))
		if r.health != nil {
			r.health.NotReady("model relay: " + err.Error())
		}
	} else if r.health != nil {
		r.health.Ready()
	}
	if r.cfg.Sandbox.Network == config.NetworkOpen {
		r.log.Warn("sandbox network is open: sandboxes can reach the internet, the host and private networks")
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go r.janitor(loopCtx)
	return nil
}

// Check reports what would keep the relay from serving turns (a runtime that
// cannot reach its sockets, a shim binary that cannot start), installing
// nothing: what `validate` prints.
func (r *Relay) Check(ctx context.Context) error {
	if err := r.checkRuntime(ctx); err != nil {
		return err
	}
	if err := checkShim(ctx, r.binary); err != nil {
		return fmt.Errorf("%w: %w", ErrShim, err)
	}
	return nil
}

func (r *Relay) setup(ctx context.Context) error {
	if err := r.checkRuntime(ctx); err != nil {
		return err
	}
	shim, err := installShim(ctx, r.binary, filepath.Join(r.dataDir, "bin"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrShim, err)
	}
	r.shim = shim
	orphans, err := prepareRunDir(r.turnsDir())
	if err != nil {
		return err
	}
	now := time.Now()
	r.mu.Lock()
	for _, d := range orphans {
		r.orphans[d] = now
	}
	r.mu.Unlock()
	return nil
}

// Stop ends the janitor and closes every turn still open (their listeners;
// the directories stay for a turn that a later start re-attaches).
func (r *Relay) Stop(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Lock()
	open := make([]*turnRelay, 0, len(r.turns))
	for _, t := range r.turns {
		open = append(open, t)
	}
	r.mu.Unlock()
	for _, t := range open {
		t.shutdown(false)
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop model relay: %w", ctx.Err())
	}
}

func (r *Relay) turnsDir() string { return filepath.Join(r.dataDir, "run", "turns") }

// janitorEvery is how often retired metric series and orphaned turn
// directories are looked for.
const janitorEvery = 30 * time.Second

// orphanGrace is how long a turn directory found at start waits for its turn
// to be re-attached before it is removed.
const orphanGrace = 2 * time.Minute

func (r *Relay) janitor(ctx context.Context) {
	defer r.wg.Done()
	tick := time.NewTicker(janitorEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			r.retireSeries(now)
			r.removeOrphans(now)
		}
	}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
