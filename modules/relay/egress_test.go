package relay

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// publicTestAddr stands for an allowed host's public address in tests; the
// dial hook sends it to a local test server. It is never dialled for real.
var publicTestAddr = netip.MustParseAddr("93.184.215.14")

// egressHooks makes allowed.test and *.allowed.test resolve to a public
// address and private.test to a private one, and sends dials of the public
// address to the local servers by port (80 plain, 443 TLS). Every dialled
// address is recorded.
type egressHooks struct {
	plain, tls string // host:port of the local servers
	mu         sync.Mutex
	dialled    []string
}

func (h *egressHooks) install(r *Relay) {
	r.resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
		switch {
		case host == "allowed.test" || strings.HasSuffix(host, ".allowed.test"):
			return []netip.Addr{publicTestAddr}, nil
		case host == "private.test":
			return []netip.Addr{publicTestAddr, netip.MustParseAddr("10.1.2.3")}, nil
		case host == "metadata.test":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		}
		return systemResolve(context.Background(), host)
	}
	r.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.mu.Lock()
		h.dialled = append(h.dialled, addr)
		h.mu.Unlock()
		switch addr {
		case publicTestAddr.String() + ":80":
			addr = h.plain
		case publicTestAddr.String() + ":443":
			addr = h.tls
		default:
			return nil, fmt.Errorf("test dialer: %s is not a test address", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

func (h *egressHooks) dials() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.dialled...)
}

// egressFixture is a relay with rules, hooks and local servers that answer
// "hello from <host>".
func egressFixture(t *testing.T, rules ...string) (*fixture, *egressHooks, *httptest.Server) {
	t.Helper()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s", r.Host) })
	plain := httptest.NewServer(hello)
	t.Cleanup(plain.Close)
	secure := httptest.NewUnstartedServer(hello)
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the agent's refused handshakes
	secure.StartTLS()
	t.Cleanup(secure.Close)
	hooks := &egressHooks{plain: plain.Listener.Addr().String(), tls: secure.Listener.Addr().String()}
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.Sandbox.EgressAllow = rules
	return startRelay(t, cfg, hooks.install), hooks, secure
}

// proxyClient goes through the turn's egress socket as its HTTP(S) proxy,
// and trusts the TLS test server's certificate for any name.
func proxyClient(a *Access, secure *httptest.Server) *http.Client {
	tr := &http.Transport{
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: "127.0.0.1:4142"}),
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socketOf(a, egressSocket))
		},
		TLSClientConfig: &tls.Config{RootCAs: secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"},
	}
	return &http.Client{Transport: tr}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestEgressAllowlist(t *testing.T) {
	f, hooks, secure := egressFixture(t, "allowed.test", "*.svc.allowed.test", "private.test", "metadata.test", "localhost")
	a := f.open(t, "")
	for _, want := range []string{"HTTPS_PROXY=http://127.0.0.1:4142", "HTTP_PROXY=http://127.0.0.1:4142", "https_proxy=http://127.0.0.1:4142",
		"NO_PROXY=127.0.0.1,localhost"} {
		if !slices.Contains(a.Env, want) {
			t.Errorf("env %q lacks %q", a.Env, want)
		}
	}
	if !slices.Contains(a.Wrap([]string{"claude"}), "127.0.0.1:4142=/run/claudette/egress.sock") {
		t.Errorf("the shim does not forward the egress port: %q", a.Wrap([]string{"claude"}))
	}
	c := proxyClient(a, secure)

	cases := map[string]struct {
		url      string
		status   int
		bodyHas  string
		dialable bool // the proxy dials the checked public address
	}{
		"allowed, CONNECT":          {"https://allowed.test/x", 200, "hello from allowed.test", true},
		"allowed, plain http":       {"http://allowed.test/x", 200, "hello from allowed.test", true},
		"suffix rule, subdomain":    {"https://api.svc.allowed.test/", 200, "hello from api.svc.allowed.test", true},
		"suffix rule, not the apex": {"https://svc.allowed.test/", 0, "Forbidden", false},
		"not in the list, CONNECT":  {"https://example.com/", 0, "Forbidden", false},
		"not in the list, plain":    {"http://example.com/", 403, "not allowed", false},
		"allowed name, private IP":  {"https://private.test/", 0, "Forbidden", false},
		"private IP, plain":         {"http://private.test/", 403, "resolves to 10.1.2.3", false},
		"allowed name, metadata IP": {"http://metadata.test/latest/meta-data/", 403, "169.254.169.254", false},
		"localhost, real resolver":  {"http://localhost/", 403, "resolves to", false},
		"allowed host, other port":  {"http://allowed.test:8080/", 403, "port 8080", false},
		"IP literal not in list":    {"http://10.0.0.1/", 403, "not allowed", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := len(hooks.dials())
			status, body := get(t, c, tc.url)
			if status != tc.status || !strings.Contains(body, tc.bodyHas) {
				t.Errorf("GET %s: %d %q, want %d with %q", tc.url, status, body, tc.status, tc.bodyHas)
			}
			if dialled := len(hooks.dials()) > before; dialled != tc.dialable {
				t.Errorf("GET %s: dialled %v, want %v (%q)", tc.url, dialled, tc.dialable, hooks.dials())
			}
		})
	}
	for _, d := range hooks.dials() {
		if !strings.HasPrefix(d, publicTestAddr.String()+":") {
			t.Errorf("the proxy dialled %s, not the checked address", d)
		}
	}
	m := f.r.metrics.egress
	if testutil.ToFloat64(m.WithLabelValues(egressAllowed)) != 3 || testutil.ToFloat64(m.WithLabelValues(egressDeniedAddress)) != 4 ||
		testutil.ToFloat64(m.WithLabelValues(egressDeniedHost)) != 5 {
		t.Errorf("egress decisions: allowed %v, denied address %v, denied host %v", testutil.ToFloat64(m.WithLabelValues(egressAllowed)),
			testutil.ToFloat64(m.WithLabelValues(egressDeniedAddress)), testutil.ToFloat64(m.WithLabelValues(egressDeniedHost)))
	}
}

// Only proxy requests are served; a tunnel dies with its turn.
func TestEgressTunnelEndsWithTheTurn(t *testing.T) {
	f, _, secure := egressFixture(t, "allowed.test")
	a := f.open(t, "")
	status, _ := get(t, socketClient(socketOf(a, egressSocket)), "http://127.0.0.1:4142/direct")
	if status != http.StatusBadRequest {
		t.Errorf("an origin-form request got %d, want 400", status)
	}

	conn, err := net.Dial("unix", socketOf(a, egressSocket))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("CONNECT answered %q, %v", buf[:n], err)
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS through the tunnel: %v", err)
	}
	socket := socketOf(a, egressSocket)
	a.Close()
	if _, err := tc.Read(make([]byte, 1)); err == nil {
		t.Error("the tunnel is still open after the turn ended")
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("egress socket left after the turn: %v", err)
	}
}

// Without rules there is no egress socket, no proxy variable and no forward.
func TestNoRulesNoProxy(t *testing.T) {
	f := startRelay(t, testConfig(t, "http://127.0.0.1:1"))
	a := f.open(t, "")
	for _, e := range a.Env {
		if strings.Contains(strings.ToLower(e), "proxy") {
			t.Errorf("env has %q", e)
		}
	}
	if _, err := os.Stat(socketOf(a, egressSocket)); !os.IsNotExist(err) {
		t.Errorf("egress socket exists without rules: %v", err)
	}
	if slices.ContainsFunc(a.Wrap(nil), func(s string) bool { return strings.Contains(s, egressSocket) }) {
		t.Errorf("shim forwards egress without rules: %q", a.Wrap(nil))
	}
}
