package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
)

// errRefused is an egress destination the policy does not allow;
// errPrivate, one of them: a name that resolves to a refused address.
var (
	errRefused = errors.New("egress refused")
	errPrivate = fmt.Errorf("%w: private or reserved address", errRefused)
)

// egress is one turn's HTTP proxy: CONNECT tunnels and absolute-URI plain
// HTTP requests to the allowed hosts, dialled at a checked public address.
type egress struct {
	r      *Relay
	turn   *turnRelay
	server *http.Server
	plain  *httputil.ReverseProxy
	tr     *http.Transport

	mu      sync.Mutex
	tunnels map[net.Conn]struct{} // both ends of every open tunnel
	closed  bool
	refused map[refusedKey]int // refusals so far by host and reason (egress_refused.go)
}

func (r *Relay) newEgress(t *turnRelay) *egress {
	e := &egress{r: r, turn: t, tunnels: map[net.Conn]struct{}{}, refused: map[refusedKey]int{}}
	e.tr = &http.Transport{DialContext: e.dialChecked, Proxy: nil, MaxIdleConnsPerHost: 4,
		IdleConnTimeout: 60 * time.Second, ResponseHeaderTimeout: 2 * time.Minute, ForceAttemptHTTP2: false}
	e.plain = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Header.Del("Proxy-Authorization")
			pr.Out.Header.Del("Proxy-Connection")
		},
		Transport:     e.tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			e.refuseOrFail(w, req.URL.Host, err)
		},
		ErrorLog: zap.NewStdLog(r.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	e.server = &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: zap.NewStdLog(r.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)))}
	return e
}

func (e *egress) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodConnect {
		e.tunnel(w, req)
		return
	}
	if !req.URL.IsAbs() || req.URL.Scheme != "http" || req.URL.Host == "" {
		http.Error(w, "egress proxy: only CONNECT and absolute http:// URLs", http.StatusBadRequest)
		return
	}
	// Only fails fast: dialChecked checks the host again for every dial.
	port := req.URL.Port()
	if port == "" {
		port = "80"
	}
	if err := e.r.rules.refusal(req.URL.Hostname(), port); err != nil {
		e.refuseOrFail(w, req.URL.Host, err)
		return
	}
	e.plain.ServeHTTP(w, req)
}

// tunnel answers CONNECT host:port once the checked address is dialled, then
// copies both ways until either side or the turn ends.
func (e *egress) tunnel(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	up, err := e.dialChecked(ctx, "tcp", req.Host)
	if err != nil {
		e.refuseOrFail(w, req.Host, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "egress proxy: cannot tunnel", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !e.track(up, down) {
		up.Close()
		down.Close()
		return
	}
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		e.untrack(up, down)
		return
	}
	// Bytes the client sent right after CONNECT (a TLS hello) are buffered.
	if n := buf.Reader.Buffered(); n > 0 {
		pending, _ := buf.Reader.Peek(n)
		if _, err := up.Write(pending); err != nil {
			e.untrack(up, down)
			return
		}
	}
	e.r.wg.Add(1)
	go func() {
		defer e.r.wg.Done()
		defer e.untrack(up, down)
		pipe(up, down)
	}()
}

// dialChecked is the only way the proxy reaches out: an allowed host name,
// resolved here, every address public, and the checked address dialled (the
// name is never resolved again).
func (e *egress) dialChecked(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, &refusal{reason: reasonBadRequest, host: hostport, msg: fmt.Sprintf("bad address %q", hostport)}
	}
	if err := e.r.rules.refusal(host, port); err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, perr := netip.ParseAddr(host); perr == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = e.r.resolve(ctx, host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no address", host)
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return nil, &refusal{reason: reasonPrivateAddress, host: host, port: port, msg: fmt.Sprintf("%s resolves to %s", host, a)}
		}
	}
	var last error
	for _, a := range addrs {
		c, err := e.r.dial(ctx, "tcp", net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			e.r.metrics.egress.WithLabelValues(egressAllowed).Inc()
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("dial %s: %w", host, last)
}

// refuseOrFail answers a refused destination 403 and an unreachable one 502.
func (e *egress) refuseOrFail(w http.ResponseWriter, target string, err error) {
	log := e.r.log.With(zap.String("message_id", e.turn.turn.MessageID), zap.String("target", target))
	switch {
	case errors.Is(err, errRefused):
		decision := egressDeniedHost
		if errors.Is(err, errPrivate) {
			decision = egressDeniedAddress
		}
		e.r.metrics.egress.WithLabelValues(decision).Inc()
		log.Info("egress refused", zap.String("decision", decision), zap.Error(err))
		e.report(target, err)
		http.Error(w, "egress proxy: "+err.Error(), http.StatusForbidden)
	default:
		e.r.metrics.egress.WithLabelValues(egressFailed).Inc()
		log.Info("egress failed", zap.Error(err))
		http.Error(w, "egress proxy: "+err.Error(), http.StatusBadGateway)
	}
}

func (e *egress) track(conns ...net.Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	for _, c := range conns {
		e.tunnels[c] = struct{}{}
	}
	return true
}

func (e *egress) untrack(conns ...net.Conn) {
	e.mu.Lock()
	for _, c := range conns {
		delete(e.tunnels, c)
	}
	e.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// close ends the proxy with its turn: the listener, the idle upstream
// connections and every tunnel.
func (e *egress) close() {
	_ = e.server.Close()
	e.tr.CloseIdleConnections()
	e.mu.Lock()
	e.closed = true
	open := make([]net.Conn, 0, len(e.tunnels))
	for c := range e.tunnels {
		open = append(open, c)
	}
	e.mu.Unlock()
	for _, c := range open {
		_ = c.Close()
	}
}

// pipe copies both ways, passing a half-close on, until both directions end.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	go half(a, b)
	go half(b, a)
	wg.Wait()
}
