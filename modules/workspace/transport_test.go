package workspace

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

// A repository URL that redirects to another host (here 127.0.0.2, an
// "internal" address) does not send the runner's clone there, with or
// without its credential; a redirect within the repository's host is
// followed.
func TestCloneFollowsNoRedirectToAnotherHost(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	var internalHits atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine's loopback: %v", err) // Linux routes all of 127/8 to lo
	}
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalHits.Add(1)
		http.Error(w, "internal", http.StatusTeapot)
	}))
	internal.Listener = l
	internal.Start()
	t.Cleanup(internal.Close)

	// The repository's host redirects /away/... to the internal host and
	// /moved/... to the real repository on the same host.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/away/"):
			http.Redirect(w, r, internal.URL+"/"+strings.TrimPrefix(r.URL.RequestURI(), "/away/"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/moved/"):
			http.Redirect(w, r, s.srv.URL+"/"+strings.TrimPrefix(r.URL.RequestURI(), "/moved/"), http.StatusMovedPermanently)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(front.Close)
	h := newHarness(t, func(c *config.Config) { c.Git.Tokens = "127.0.0.1=secret-token" })
	ctx := context.Background()
	_, err = h.m.Prepare(ctx, "ws-1", Repository{URL: front.URL + "/away/" + s.repo.Name})
	if err == nil || !strings.Contains(err.Error(), "redirect to another host refused") {
		t.Fatalf("clone through a redirect to another host = %v, want it refused", err)
	}
	if n := internalHits.Load(); n != 0 {
		t.Fatalf("the internal host got %d request(s)", n)
	}
	// The same host, another port: another origin, refused too.
	_, err = h.m.Prepare(ctx, "ws-2", Repository{URL: front.URL + "/moved/" + s.repo.Name})
	if err == nil || !strings.Contains(err.Error(), "redirect to another host refused") {
		t.Fatalf("clone through a redirect to another port = %v, want it refused", err)
	}
	// A redirect that stays on the origin is followed.
	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := strings.CutPrefix(r.URL.Path, "/old/"); ok {
			u := *r.URL
			u.Path = "/" + p
			http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
			return
		}
		proxyTo(t, s.srv.URL).ServeHTTP(w, r)
	}))
	t.Cleanup(same.Close)
	if _, err := h.m.Prepare(ctx, "ws-3", Repository{URL: same.URL + "/old/" + s.repo.Name}); err != nil {
		t.Fatalf("clone through a same-origin redirect: %v", err)
	}
}

// proxyTo forwards a request to base (the test's git server).
func proxyTo(t *testing.T, base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		req.ContentLength = r.ContentLength
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := res.Body.Read(buf)
			w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	})
}
