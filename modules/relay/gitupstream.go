package relay

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

// parseOrigin checks a remote origin URL: http(s), a host, no credentials,
// no query or fragment.
func parseOrigin(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("origin %q is not an http(s) URL", redactURL(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("origin %s must not hold credentials, a query or a fragment", redactURL(raw))
	}
	return u, nil
}

// remoteGit forwards to the git host with the runner's credential for it.
type remoteGit struct {
	base       *url.URL
	user, pass string
	auth       bool
	rt         http.RoundTripper
}

func (r *Relay) newRemoteGit(origin string) (*remoteGit, error) {
	u, err := parseOrigin(origin)
	if err != nil {
		return nil, fmt.Errorf("git relay: %w", err)
	}
	g := &remoteGit{base: u, rt: r.gitTransport}
	g.user, g.pass, g.auth = config.GitCredential(r.gitTokens, origin)
	return g, nil
}

// newGitTransport reaches git hosts: the runner's own proxy settings, the
// system's roots unless roots is set (tests). It never follows a redirect
// (the relay calls RoundTrip) and leaves compression to the two ends.
func newGitTransport(tlsConfig *tls.Config) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 10 * time.Minute // a big push is unpacked before the answer
	t.DisableCompression = true
	// Packs pass in large reads and writes (the defaults are 4 KiB).
	t.WriteBufferSize, t.ReadBufferSize = 64<<10, 64<<10
	if tlsConfig != nil {
		t.TLSClientConfig = tlsConfig.Clone()
	}
	return t
}

// Headers the client's request and the host's answer may carry across.
var (
	gitRequestHeaders  = []string{"Content-Type", "Content-Encoding", "Accept", "Accept-Encoding", "Accept-Language", "User-Agent", "Git-Protocol"}
	gitResponseHeaders = []string{"Content-Type", "Content-Encoding", "Cache-Control", "Expires", "Pragma"}
)

func (g *remoteGit) serve(w *gitResponse, req *gitRequest) error {
	target := *g.base
	target.Path = strings.TrimSuffix(target.Path, "/")
	target.RawPath = ""
	method := http.MethodPost
	if req.advertise {
		method = http.MethodGet
		target.Path += "/info/refs"
		target.RawQuery = "service=" + req.service
	} else {
		target.Path += "/" + req.service
	}
	out, err := http.NewRequestWithContext(req.ctx, method, target.String(), req.body)
	if err != nil {
		return fmt.Errorf("git request: %w", err)
	}
	if req.body != nil {
		out.ContentLength = req.length
		if req.length < 0 {
			out.ContentLength = 0
			out.TransferEncoding = []string{"chunked"}
		}
	}
	for _, h := range gitRequestHeaders {
		if v := req.header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	if req.service == serviceReceive {
		// The result is parsed as it streams back: plain, and protocol v0
		// (the only one receive-pack speaks).
		out.Header.Del("Accept-Encoding")
		out.Header.Del("Git-Protocol")
		if !req.advertise {
			out.Header.Del("Content-Encoding") // the relay decoded it
		}
	}
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", "git/claudette-runner")
	}
	if g.auth {
		out.SetBasicAuth(g.user, g.pass)
	}
	resp, err := g.rt.RoundTrip(out)
	if err != nil {
		return fmt.Errorf("git host %s: %w", g.base.Host, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		gitError(w, http.StatusBadGateway, fmt.Sprintf("git relay: the git host answered a redirect (HTTP %d), which the runner does not follow", resp.StatusCode))
		return nil
	case resp.StatusCode >= 400:
		g.hostError(w, resp)
		return nil
	}
	for _, h := range gitResponseHeaders {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	// The sandbox went away, or the host broke off: the client sees it end.
	_, _ = copyGit(w, resp.Body)
	return nil
}

// hostError passes on the git host's refusal so that git prints it: the
// status (a 401 as 403, so git asks for no password it must not have) and a
// short text, the host's own when it sent text.
func (g *remoteGit) hostError(w http.ResponseWriter, resp *http.Response) {
	msg := fmt.Sprintf("git relay: the git host %s answered HTTP %d", g.base.Host, resp.StatusCode)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		msg += " (the runner's credential for it is missing or refused)"
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		if s := strings.TrimSpace(printable(strings.ReplaceAll(string(b), "\n", " "), maxGitText)); s != "" {
			msg += ": " + s
		}
	}
	code := resp.StatusCode
	if code == http.StatusUnauthorized {
		code = http.StatusForbidden
	}
	gitError(w, code, msg)
}
