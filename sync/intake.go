package sync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	stdsync "sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/health"
	"github.com/claudette-dev/claudette-runner/modules/retry"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// ReadinessComponent is the name of the intake's readiness component.
const ReadinessComponent = "electric"

// Defaults of the tunable Params fields.
const (
	DefaultSlowRetry      = time.Minute
	DefaultRequestTimeout = 60 * time.Second
	DefaultMinLivePoll    = time.Second
	DefaultMaxBody        = 256 << 20
	DefaultUnreadyAfter   = time.Minute
)

// Params are the intake's dependencies and tunables. Zero tunables take the defaults.
type Params struct {
	Config    *config.Config
	Logger    *zap.Logger
	Metrics   prometheus.Registerer // nil: metrics are not registered
	Health    *health.Registry
	Handler   Handler
	Responder Responder    // nil: invalid rows are only logged
	Client    *http.Client // nil: a client of its own

	// Backoff paces retries of network errors, 408, 429 and 5xx, of a 400
	// about the position and of protocol, stale and journal errors; it also
	// paces storms of 409 must-refetch and answers that stall the offset.
	Backoff retry.Backoff
	// SlowRetry paces retries after 400/401/403 (and other 4xx), which need
	// the operator to fix something on one side or the other; a 400 about
	// the position is retried with Backoff instead.
	SlowRetry time.Duration
	// RequestTimeout bounds one request; it must be well above the server's
	// live hold (20 s).
	RequestTimeout time.Duration
	// MinLivePoll is the least time between two live requests that brought
	// nothing: a guard against a server or proxy that does not hold.
	MinLivePoll time.Duration
	// MaxBody bounds one response body.
	MaxBody int64
	// UnreadyAfter is how long the requests may fail (network, 5xx,
	// throttling) once the shape was up to date before /readyz says so
	// (default DefaultUnreadyAfter); auth and shape refusals say so at once.
	UnreadyAfter time.Duration
	// Gate, when set, is asked before new messages are journaled (gate.go).
	Gate Gate
	// MinFree is the free space (bytes) the data dir's file system must keep
	// for new messages to be taken (default DefaultMinFree; negative: not
	// checked).
	MinFree int64
}

// Intake follows the runner's Electric shape and dispatches its messages.
type Intake struct {
	cfg       *config.Config
	log       *zap.Logger
	handler   Handler
	responder Responder
	ready     *health.Component
	m         *metrics
	client    *http.Client
	ownClient bool
	p         Params
	shapeKey  string

	mu      stdsync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	journal *journal
}

// New checks the parameters and registers the metrics and the readiness
// component; nothing is opened or sent before Start.
func New(p Params) (*Intake, error) {
	switch {
	case p.Config == nil:
		return nil, errors.New("intake: no configuration")
	case p.Handler == nil:
		return nil, errors.New("intake: no message handler")
	case p.Health == nil:
		return nil, errors.New("intake: no readiness registry")
	}
	base, err := shapeURL(p.Config.ElectricURL)
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	if p.Backoff.Base <= 0 || p.Backoff.Cap <= 0 {
		p.Backoff = retry.Default
	}
	p.SlowRetry = orDefault(p.SlowRetry, DefaultSlowRetry)
	p.RequestTimeout = orDefault(p.RequestTimeout, DefaultRequestTimeout)
	p.MinLivePoll = orDefault(p.MinLivePoll, DefaultMinLivePoll)
	p.UnreadyAfter = orDefault(p.UnreadyAfter, DefaultUnreadyAfter)
	if p.MaxBody <= 0 {
		p.MaxBody = DefaultMaxBody
	}
	if p.MinFree == 0 {
		p.MinFree = DefaultMinFree
	}
	m, err := newMetrics(p.Metrics)
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	i := &Intake{
		cfg: p.Config, log: p.Logger, handler: p.Handler, responder: p.Responder,
		ready: p.Health.Component(ReadinessComponent), m: m, client: p.Client, p: p,
		shapeKey: shapeKey(base, p.Config.RunnerID),
	}
	if i.client == nil {
		i.client, i.ownClient = newHTTPClient(), true
	}
	i.ready.NotReady("connecting to electric")
	return i, nil
}

// shapeKey names the shape a saved position belongs to: a position is only
// valid for the same shape on the same service.
func shapeKey(base *url.URL, runnerID string) string {
	return base.Scheme + "://" + base.Host + base.Path + "\x00" + table + "\x00" + whereRunner + "\x00" + runnerID
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// newHTTPClient is a client without an overall timeout (each request has its
// own deadline) and with bounded dial and header waits.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: t}
}

// Start opens the journal, restores the saved position and starts following
// the shape in the background.
func (i *Intake) Start(context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cancel != nil {
		return errors.New("intake: already started")
	}
	j, err := openJournal(i.cfg.DataDir, i.cfg.Intake.JournalMaxAge, i.cfg.Intake.JournalMaxEntries)
	if err != nil {
		return err
	}
	st, err := i.newStream(j)
	if err != nil {
		_ = j.close()
		return err
	}
	unsettled, err := j.pending()
	if err != nil {
		_ = j.close()
		return fmt.Errorf("read pending messages: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	i.journal, i.cancel, i.done = j, cancel, make(chan struct{})
	go func() {
		defer close(i.done)
		i.redeliver(ctx, j, unsettled)
		i.run(ctx, st)
	}()
	return nil
}

func (i *Intake) newStream(j *journal) (*stream, error) {
	base, err := shapeURL(i.cfg.ElectricURL)
	if err != nil {
		return nil, err
	}
	st := &stream{
		base: base, runner: i.cfg.RunnerID, token: i.cfg.RunnerToken, client: i.client,
		timeout: i.p.RequestTimeout, maxBody: i.p.MaxBody,
		pos: position{Offset: offsetBeforeAll},
	}
	pos, ok, err := j.position(i.shapeKey)
	if err != nil {
		return nil, err
	}
	if ok {
		st.pos = pos
		i.log.Info("resuming electric shape", zap.String("handle", pos.Handle), zap.String("offset", pos.Offset))
	} else {
		i.log.Info("reading electric shape from the start")
	}
	return st, nil
}

// Stop ends the stream, waiting for it within ctx, and closes the journal.
func (i *Intake) Stop(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cancel == nil {
		return nil
	}
	i.cancel()
	select {
	case <-i.done:
	case <-ctx.Done():
		return fmt.Errorf("stop intake: %w", ctx.Err())
	}
	i.ready.NotReady("stopped")
	err := i.journal.close()
	i.cancel, i.journal = nil, nil
	if i.ownClient {
		i.client.CloseIdleConnections()
	}
	if err != nil {
		return fmt.Errorf("close intake journal: %w", err)
	}
	return nil
}
