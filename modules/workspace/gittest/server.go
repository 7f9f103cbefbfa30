package gittest

import (
	"bytes"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Request is what the server recorded of one HTTP request.
type Request struct {
	Method        string
	Path          string
	Query         string
	Authorization string // the raw Authorization header, "" when none
	Status        int
}

// Server serves repositories over git's smart HTTP protocol on 127.0.0.1.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string

	srv      *httptest.Server
	pool     *x509.CertPool
	caFile   string
	mu       sync.Mutex
	token    string
	noPush   bool
	requests []Request
	stderr   lockedBuffer
}

// Serve starts a server publishing each repo at {URL}/{repo.Name}; it is closed
// by tb.Cleanup. Anyone may push (http.receivepack is on) unless
// RefusePushes; RequireToken guards both directions.
func Serve(tb testing.TB, repos ...*Repo) *Server {
	tb.Helper()
	return serve(tb, false, repos)
}

// ServeTLS is Serve over HTTPS with a certificate of its own test CA: trust
// it with CertPool (Go clients) or CAFile (the git CLI's GIT_SSL_CAINFO).
func ServeTLS(tb testing.TB, repos ...*Repo) *Server {
	tb.Helper()
	return serve(tb, true, repos)
}

func serve(tb testing.TB, useTLS bool, repos []*Repo) *Server {
	tb.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		tb.Fatalf("gittest: git CLI not found: %v", err)
	}
	s := &Server{}
	mux := http.NewServeMux()
	for _, r := range repos {
		env := append(GitEnv(), "GIT_PROJECT_ROOT="+filepath.Dir(r.Dir), "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true")
		mux.Handle("/"+r.Name+"/", &cgi.Handler{
			Path:   gitPath,
			Args:   []string{"http-backend"},
			Dir:    filepath.Dir(r.Dir),
			Env:    env,
			Stderr: &s.stderr,
		})
	}
	s.srv = httptest.NewUnstartedServer(s.record(mux))
	if useTLS {
		s.srv.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(s.srv.Certificate())
		s.pool = pool
		s.caFile = filepath.Join(tb.TempDir(), "gittest-ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
		if err := os.WriteFile(s.caFile, pemBytes, 0o644); err != nil {
			tb.Fatalf("gittest: %v", err)
		}
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// RepoURL is the clone URL of repo on this server.
func (s *Server) RepoURL(repo *Repo) string { return s.URL + "/" + repo.Name }

// Host is the server's host:port, the key a token configuration uses.
func (s *Server) Host() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
}

// CertPool trusts a ServeTLS server's certificate; nil for plain HTTP.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// CAFile is a PEM file of a ServeTLS server's certificate, for the git CLI
// (GIT_SSL_CAINFO); "" for plain HTTP.
func (s *Server) CAFile() string { return s.caFile }

// Pushes are the recorded receive-pack POSTs: every push that reached the
// server, whatever its outcome.
func (s *Server) Pushes() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/git-receive-pack") {
			out = append(out, r)
		}
	}
	return out
}

// RequireToken makes every later request need the token, either as
// "Authorization: Bearer <token>" or as HTTP Basic auth with the token as the
// password (any user name). Unauthenticated requests get 401 with a Basic
// challenge, as git hosts answer.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	s.token = token
	s.mu.Unlock()
}

// RefusePushes makes the server refuse every later push (403 to the
// receive-pack requests), as a host that does not let this user push.
func (s *Server) RefusePushes() {
	s.mu.Lock()
	s.noPush = true
	s.mu.Unlock()
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Stderr is what git http-backend wrote to its standard error so far
// (e.g. "not our ref" for a commit it refused to serve).
func (s *Server) Stderr() string { return s.stderr.String() }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		token, noPush := s.token, s.noPush
		s.mu.Unlock()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		push := strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
		if token != "" && !authorized(r, token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(rec, "authentication required", http.StatusUnauthorized)
		} else if push && noPush {
			http.Error(rec, "pushes are not allowed", http.StatusForbidden)
		} else {
			if len(r.TransferEncoding) > 0 {
				// net/http/cgi refuses chunked bodies; git http-backend reads
				// a body without CONTENT_LENGTH to its end, as git pushes
				// bigger than http.postBuffer are sent.
				r = r.Clone(r.Context())
				r.TransferEncoding, r.ContentLength = nil, -1
			}
			next.ServeHTTP(rec, r)
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method:        r.Method,
			Path:          r.URL.Path,
			Query:         r.URL.RawQuery,
			Authorization: r.Header.Get("Authorization"),
			Status:        rec.status,
		})
		s.mu.Unlock()
	})
}

func authorized(r *http.Request, token string) bool {
	got := ""
	if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	} else if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = b
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
