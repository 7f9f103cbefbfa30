package relay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// GitPort is the loopback port the shim forwards to the turn's git relay.
const GitPort = 4143

const (
	gitSocket = "git.sock"
	// gitPrefix is the path the sandbox's git reaches origin at:
	// http://127.0.0.1:4143/origin.git.
	gitPrefix = "/origin.git"

	serviceUpload  = "git-upload-pack"
	serviceReceive = "git-receive-pack"
)

// GitRemote is the repository a turn's git relay serves: the workspace's
// own, and no other.
type GitRemote struct {
	// URL is the workspace's recorded origin: an http(s) URL without
	// credentials, or (exec --repo) an absolute path of a local repository.
	URL string
	// Branch is the conversation's branch, a short name (claudette/c-1):
	// the only ref a push may update.
	Branch string
}

// local says whether the origin is a repository on this machine.
func (g GitRemote) local() bool { return filepath.IsAbs(g.URL) }

func (g GitRemote) check() error {
	if g.Branch == "" || strings.HasPrefix(g.Branch, "-") || strings.HasPrefix(g.Branch, "refs/") ||
		strings.Contains(g.Branch, "..") || strings.ContainsFunc(g.Branch, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("~^:?*[\\", r)
	}) {
		return fmt.Errorf("git relay: branch %q is not a branch name", g.Branch)
	}
	if g.local() {
		if filepath.Clean(g.URL) != g.URL || strings.ContainsFunc(g.URL, unicode.IsControl) {
			return fmt.Errorf("git relay: local origin %q is not a clean absolute path", g.URL)
		}
		return nil
	}
	if _, err := parseOrigin(g.URL); err != nil {
		return fmt.Errorf("git relay: %w", err)
	}
	return nil
}

// gitEnv points the sandbox's stock git at the relay for origin, with the
// turn token (never the runner's credential) as a bearer header for the
// relay's address alone.
func gitEnv(origin, token string) []string {
	base := "http://127.0.0.1:" + strconv.Itoa(GitPort) + "/"
	return []string{
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=url." + base + strings.TrimPrefix(gitPrefix, "/") + ".insteadOf",
		"GIT_CONFIG_VALUE_0=" + origin,
		"GIT_CONFIG_KEY_1=http." + base + ".extraHeader",
		"GIT_CONFIG_VALUE_1=Authorization: Bearer " + token,
		"GIT_TERMINAL_PROMPT=0",
	}
}

// gitUpstream is where the relay sends what it lets through: the git host,
// or a local repository.
type gitUpstream interface {
	// serve answers req on w. An error means nothing was written and the
	// caller answers; once something is written serve returns nil.
	serve(w *gitResponse, req *gitRequest) error
}

// gitRequest is one smart-HTTP request let through: the advertisement
// (GET info/refs, body nil) or an RPC (POST, body streamed).
type gitRequest struct {
	ctx       context.Context
	service   string
	advertise bool
	header    http.Header // the client's, for the few headers passed on
	body      io.Reader
	length    int64 // -1 when unknown
	// over says whether a push's body passed the size limit.
	over func() bool
}

// gitRelay is one turn's git relay.
type gitRelay struct {
	r      *Relay
	t      *turnRelay
	remote GitRemote
	up     gitUpstream
	server *http.Server
}

func (r *Relay) newGitRelay(t *turnRelay) (*gitRelay, error) {
	g := &gitRelay{r: r, t: t, remote: *t.turn.Git}
	if g.remote.local() {
		up, err := newLocalGit(g.remote.URL)
		if err != nil {
			return nil, err
		}
		g.up = up
	} else {
		up, err := r.newRemoteGit(g.remote.URL)
		if err != nil {
			return nil, err
		}
		g.up = up
	}
	g.server = &http.Server{Handler: g, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: zap.NewStdLog(r.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)))}
	return g, nil
}

func (g *gitRelay) close() { _ = g.server.Close() }

func (g *gitRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	m := g.r.metrics
	if !g.t.authorized(req) {
		m.gitRequest("none", http.StatusUnauthorized)
		// No challenge: git would ask for a password it must not have.
		gitError(w, http.StatusUnauthorized, "git relay: invalid or expired turn token")
		return
	}
	service, advertise, ok := gitRoute(req)
	if !ok {
		m.gitRequest("none", http.StatusForbidden)
		gitError(w, http.StatusForbidden, "git relay: only git's smart HTTP for this workspace's origin is relayed")
		return
	}
	resp := &gitResponse{ResponseWriter: w, bytes: m.gitBytes.WithLabelValues("to_sandbox")}
	defer func() { m.gitRequest(service, resp.code()) }()
	if service == serviceReceive && !advertise {
		g.push(resp, req)
		return
	}
	body, length, err := requestBody(req, false)
	if err != nil {
		gitError(resp, http.StatusUnsupportedMediaType, "git relay: "+err.Error())
		return
	}
	gr := &gitRequest{ctx: req.Context(), service: service, advertise: advertise, header: req.Header, length: length}
	if !advertise {
		gr.body = &countingReader{r: body, c: m.gitBytes.WithLabelValues("to_upstream")}
	}
	if err := g.up.serve(resp, gr); err != nil {
		g.upstreamFailed(resp, req, err)
	}
}

// gitRoute accepts only smart HTTP of the relayed repository.
func gitRoute(req *http.Request) (service string, advertise, ok bool) {
	if req.URL.RawPath != "" {
		return "", false, false
	}
	switch {
	case req.Method == http.MethodGet && req.URL.Path == gitPrefix+"/info/refs":
		switch req.URL.RawQuery {
		case "service=" + serviceUpload:
			return serviceUpload, true, true
		case "service=" + serviceReceive:
			return serviceReceive, true, true
		}
	case req.Method == http.MethodPost && req.URL.RawQuery == "":
		for _, s := range []string{serviceUpload, serviceReceive} {
			if req.URL.Path == gitPrefix+"/"+s && req.Header.Get("Content-Type") == "application/x-"+s+"-request" {
				return s, false, true
			}
		}
	}
	return "", false, false
}

// requestBody is the request's body and length. With decode, a gzip body
// is decompressed (length unknown); without, it passes as it came.
func requestBody(req *http.Request, decode bool) (io.Reader, int64, error) {
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return req.Body, req.ContentLength, nil
	case "gzip", "x-gzip":
		if !decode {
			return req.Body, req.ContentLength, nil
		}
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			return nil, 0, fmt.Errorf("gzip request body: %w", err)
		}
		req.Header.Del("Content-Encoding")
		return zr, -1, nil
	default:
		return nil, 0, fmt.Errorf("content encoding %q is not supported", enc)
	}
}

// upstreamFailed answers a request the upstream could not take, in a way
// git prints (text/plain is shown as "remote: …" on a ref advertisement).
func (g *gitRelay) upstreamFailed(w http.ResponseWriter, req *http.Request, err error) {
	if errors.Is(err, req.Context().Err()) {
		return // the sandbox went away, or the turn ended
	}
	g.r.metrics.gitUpstreamErrors.Inc()
	g.r.log.Warn("git host unreachable through the relay", zap.String("message_id", g.t.turn.MessageID), zap.Error(err))
	gitError(w, http.StatusBadGateway, "git relay: the git host is unreachable")
}

func gitError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// push checks a receive-pack request's commands against the ref policy and
// the size limit before anything is forwarded, then streams it on, reads
// the result as it streams back and raises an event per ref.
func (g *gitRelay) push(w *gitResponse, req *http.Request) {
	m := g.r.metrics
	body, length, err := requestBody(req, true)
	if err != nil {
		gitError(w, http.StatusUnsupportedMediaType, "git relay: "+err.Error())
		return
	}
	br := bufio.NewReaderSize(body, 64<<10)
	p, err := readPushRequest(br)
	if err != nil {
		m.gitPushRefused.WithLabelValues(refusedMalformed).Inc()
		gitError(w, http.StatusBadRequest, "git relay: malformed push request")
		return
	}
	limit := int64(g.r.cfg.Git.PushMaxSize)
	if v := checkPush(g.r.cfg, g.remote.Branch, p); v.refused() {
		g.refuse(w, br, p, v)
		return
	}
	if length > limit {
		g.refuse(w, br, p, sizeVerdict(p, g.r.cfg.Git.PushMaxSize))
		return
	}
	// The pack passes on straight from the body: the command section and
	// what br read ahead first, then the rest unbuffered (no second copy).
	ahead, _ := br.Peek(br.Buffered())
	rest := io.MultiReader(bytes.NewReader(append(p.Head, ahead...)), body)
	limited := &limitReader{r: rest, left: limit}
	report := &reportParser{sideband: p.sideband()}
	if len(p.Commands) > 0 {
		w.tee = report
	}
	gr := &gitRequest{ctx: req.Context(), service: serviceReceive, header: req.Header, length: length,
		body: &countingReader{r: limited, c: m.gitBytes.WithLabelValues("to_upstream")}, over: func() bool { return limited.over }}
	err = g.up.serve(w, gr)
	switch {
	case limited.over:
		if !w.wrote {
			g.refuse(w, rest, p, sizeVerdict(p, g.r.cfg.Git.PushMaxSize))
		}
		return
	case err != nil:
		g.upstreamFailed(w, req, err)
		for _, c := range p.Commands {
			g.refused(c.Ref, refusedUnreachable, "the git host is unreachable")
		}
		return
	}
	g.pushed(p, report, w.code())
}

// refuse answers a push with a valid receive-pack result that refuses each
// command with its reason, after reading the rest of the body (so the
// client is not cut off mid-send). Nothing was forwarded.
func (g *gitRelay) refuse(w *gitResponse, rest io.Reader, p pushRequest, v pushVerdict) {
	_, _ = io.Copy(io.Discard, rest)
	w.Header().Set("Content-Type", "application/x-"+serviceReceive+"-result")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(refusalReport(p, v.reasons))
	for i, c := range p.Commands {
		g.refused(c.Ref, v.labels[i], strings.TrimPrefix(v.reasons[i], "git relay: "))
	}
}

// pushed raises the events of a forwarded push from the upstream's result.
func (g *gitRelay) pushed(p pushRequest, report *reportParser, code int) {
	byRef := map[string]pushCommand{}
	for _, c := range p.Commands {
		byRef[c.Ref] = c
	}
	seen := map[string]bool{}
	for _, s := range report.statuses {
		c, ok := byRef[s.Ref]
		if !ok || seen[s.Ref] {
			continue
		}
		seen[s.Ref] = true
		if !s.OK {
			g.refused(s.Ref, refusedByUpstream, printable(s.Reason, maxGitText))
			continue
		}
		g.r.metrics.gitPushes.Inc()
		g.r.log.Info("git push forwarded", zap.String("message_id", g.t.turn.MessageID), zap.String("ref", c.Ref), zap.String("new", c.New))
		g.t.turn.notify(rpc.RunnerEvent(rpc.RunnerGitPush, map[string]any{"ref": c.Ref, "old": c.Old, "new": c.New}))
	}
	for _, c := range p.Commands {
		if !seen[c.Ref] {
			reason := "the git host did not accept the push"
			if code != http.StatusOK {
				reason = fmt.Sprintf("the git host answered HTTP %d", code)
			} else if report.unpack != "" && report.unpack != "ok" {
				reason = "the git host could not unpack it: " + printable(report.unpack, maxGitText)
			}
			g.refused(c.Ref, refusedByUpstream, reason)
		}
	}
}

func (g *gitRelay) refused(ref, label, reason string) {
	g.r.metrics.gitPushRefused.WithLabelValues(label).Inc()
	g.r.log.Info("git push refused", zap.String("message_id", g.t.turn.MessageID), zap.String("ref", printable(ref, maxGitText)), zap.String("reason", label))
	g.t.turn.notify(rpc.RunnerEvent(rpc.RunnerGitPushRefused, map[string]any{"ref": printable(ref, maxGitText), "reason": reason}))
}

// printable keeps a short, printable copy of text from the network or a
// sandbox: control characters and invalid UTF-8 become '?', at most max
// runes.
func printable(s string, max int) string {
	var sb strings.Builder
	for n := 0; s != "" && n < max; n++ {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// maxGitText bounds the text a git event or log line takes from the host.
const maxGitText = 200
