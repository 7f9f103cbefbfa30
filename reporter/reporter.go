package reporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/retry"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// ReadinessComponent is the name of the reporter's readiness component.
const ReadinessComponent = "orchestrator"

// Params are what New needs. Config, Logger and Health are required.
type Params struct {
	Config     *config.Config
	Logger     *zap.Logger
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
	Health     *health.Registry
	Version    string       // the runner's version, for heartbeats
	HTTPClient *http.Client // nil: a client made for the orchestrator; redirects are never followed
	Tuning     Tuning
}

// Tuning holds the delivery knobs; zero fields take the defaults. Tests make
// the waits short.
type Tuning struct {
	BatchItems int // items per POST (default 1000)
	BatchBytes int // body bytes per POST (default 1 MiB); a bigger item goes alone
	// Linger is the wait after new items arrive on an idle pipe, so that a
	// burst becomes one POST. Default none: what arrives while a POST is in
	// flight goes in the next one anyway, and a wait here delays every turn's
	// first event and its answer (bench: 5 ms of a ~10 ms delivery).
	Linger         time.Duration
	Backoff        retry.Backoff // retry pacing (default retry.Default: 1s doubling, capped at 32s)
	AuthRetry      time.Duration // retry interval after 401/403 (default 30s)
	RequestTimeout time.Duration // one POST (default 2m)
	SegmentBytes   int           // outbox segment file size (default 64 MiB)
	// UnreadyAfter is how long every POST may fail (network, 5xx, refused,
	// rejected) before /readyz says the orchestrator is not ready (default 1m).
	UnreadyAfter time.Duration
}

func (t Tuning) withDefaults() Tuning {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if t.BatchItems <= 0 {
		t.BatchItems = 1000
	}
	if t.BatchBytes <= 0 {
		t.BatchBytes = 1 << 20
	}
	if t.SegmentBytes <= 0 {
		t.SegmentBytes = 64 << 20
	}
	if t.Backoff.Base <= 0 || t.Backoff.Cap <= 0 {
		t.Backoff = retry.Default
	}
	def(&t.AuthRetry, 30*time.Second)
	def(&t.RequestTimeout, 2*time.Minute)
	def(&t.UnreadyAfter, time.Minute)
	return t
}

// Reporter stores outbound items durably and delivers them in order.
type Reporter struct {
	cfg   *config.Config
	log   *zap.Logger
	m     *metrics
	ready *health.Component
	// storeReady is the outbox's own readiness (storage.go): not ready while
	// commits fail.
	storeReady *health.Component
	store      storage
	version    string
	client     *http.Client
	url        string
	tune       Tuning

	status atomic.Pointer[func() rpc.RunnerStatus]
	hb     atomic.Pointer[Item] // latest heartbeat not yet delivered
	hbWake chan struct{}

	com       atomic.Pointer[committer]
	newData   chan struct{} // committer -> sender
	committed atomic.Uint64 // id of the last item stored
	delivered atomic.Uint64 // every id up to it is delivered or dead-lettered
	pending   atomic.Int64  // bytes in the outbox
	items     atomic.Int64  // items in the outbox
	overBound atomic.Bool

	mu       sync.Mutex
	progress chan struct{} // closed and replaced on every delivery
	ob       *outbox
	running  bool
	stopped  chan struct{}
	cancel   context.CancelFunc
	stopCom  chan struct{}
	wg       sync.WaitGroup
}

// New checks the parameters and registers the metrics and the readiness
// component. Nothing is opened or sent until Start.
func New(p Params) (*Reporter, error) {
	if p.Config == nil || p.Logger == nil || p.Health == nil {
		return nil, errors.New("reporter: Config, Logger and Health are required")
	}
	u, err := url.Parse(p.Config.OrchestratorURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("reporter: orchestrator URL must be http(s)://host/..., got %q", redact(p.Config.OrchestratorURL))
	}
	if p.Config.Outbox.HeartbeatInterval <= 0 {
		return nil, fmt.Errorf("reporter: heartbeat interval must be more than 0, got %s", p.Config.Outbox.HeartbeatInterval)
	}
	m, err := newMetrics(p.Registerer)
	if err != nil {
		return nil, err
	}
	client := newHTTPClient()
	if p.HTTPClient != nil {
		c := *p.HTTPClient
		client = &c
	}
	// A redirected POST would become a GET whose 200 would drop the batch.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := &Reporter{
		cfg:        p.Config,
		log:        p.Logger,
		m:          m,
		ready:      p.Health.Component(ReadinessComponent),
		storeReady: p.Health.Component(StorageComponent),
		version:    p.Version,
		client:     client,
		url:        p.Config.OrchestratorURL,
		tune:       p.Tuning.withDefaults(),
		hbWake:     make(chan struct{}, 1),
		newData:    make(chan struct{}, 1),
		progress:   make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	return r, nil
}

// Start opens the outbox, then starts the sender and the heartbeat. Items
// left in the outbox by an earlier run are delivered first.
func (r *Reporter) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running || r.ob != nil {
		return errors.New("reporter: already started")
	}
	ob, st, err := openOutbox(filepath.Join(r.cfg.DataDir, outboxDir), int64(r.tune.SegmentBytes), r.log)
	if err != nil {
		return err
	}
	r.ob = ob
	r.committed.Store(st.last)
	r.delivered.Store(st.next - 1)
	r.pending.Store(st.bytes)
	r.items.Store(st.count)
	r.m.outboxBytes.Set(float64(st.bytes))
	r.m.outboxItems.Set(float64(st.count))

	com := newCommitter(ob)
	com.onCommit = r.committedItems
	com.onError = r.storageFailed
	r.com.Store(com)
	r.stopCom = make(chan struct{})
	go com.run(r.stopCom)

	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	s := newSender(r, st)
	r.wg.Add(2)
	go func() { defer r.wg.Done(); s.run(ctx) }()
	go func() { defer r.wg.Done(); r.heartbeatLoop(ctx) }()
	r.running = true
	r.ready.Ready()
	r.storeReady.Ready()
	r.log.Info("reporter started",
		zap.String("orchestrator_url", redact(r.url)),
		zap.Int64("pending_items", st.count),
		zap.Int64("pending_bytes", st.bytes))
	return nil
}

// Stop tries to deliver everything queued within ctx, then stops the sender
// and the heartbeat and closes the outbox. What was not delivered stays in
// the outbox for the next start.
func (r *Reporter) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.running {
		r.mu.Unlock()
		return nil
	}
	r.running = false
	r.mu.Unlock()

	flushCtx, cancel := withMargin(ctx)
	if err := r.Flush(flushCtx); err != nil {
		r.log.Warn("outbox not drained before stop; the rest is delivered after the next start",
			zap.Int64("pending_items", r.items.Load()), zap.Int64("pending_bytes", r.pending.Load()), zap.Error(err))
	}
	cancel()
	r.cancel()
	r.wg.Wait()
	close(r.stopped) // wakes producers waiting for room
	close(r.stopCom) // commits what producers already handed over
	<-r.com.Load().done
	r.ready.NotReady("reporter stopped")
	r.storeReady.NotReady("reporter stopped")
	if err := r.ob.close(); err != nil {
		return fmt.Errorf("close outbox: %w", err)
	}
	r.log.Info("reporter stopped", zap.Int64("pending_items", r.items.Load()))
	return nil
}

// withMargin leaves part of ctx's time for closing after the flush.
func withMargin(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := min(time.Until(dl)/10, time.Second)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// SetStatus sets where heartbeats take the runner's figures (active, queued,
// capacity). Without it a heartbeat reports no work and cfg.MaxConcurrent.
func (r *Reporter) SetStatus(fn func() rpc.RunnerStatus) {
	if fn == nil {
		r.status.Store(nil)
		return
	}
	r.status.Store(&fn)
}

// Respond queues a response to an inbound request; it is Send(ctx, Response(resp)).
func (r *Reporter) Respond(ctx context.Context, resp rpc.Response) error {
	return r.Send(ctx, Response(resp))
}

// Flush waits until every item stored before the call is delivered (or set
// aside as a dead letter), or ctx ends.
func (r *Reporter) Flush(ctx context.Context) error {
	target := r.committed.Load()
	for {
		ch := r.progressChan()
		if r.delivered.Load() >= target {
			return nil
		}
		select {
		case <-ch:
		case <-r.stopped:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("flush outbox (%d items pending): %w", r.items.Load(), ctx.Err())
		}
	}
}

func (r *Reporter) progressChan() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progress
}

func (r *Reporter) broadcast() {
	r.mu.Lock()
	close(r.progress)
	r.progress = make(chan struct{})
	r.mu.Unlock()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.Redacted()
}
