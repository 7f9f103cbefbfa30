package relay

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
)

// maxRequestBody bounds one model request (the API's own limit is lower).
const maxRequestBody = 64 << 20

// upstreamTransport reaches the model API. It honours the runner's own
// HTTPS_PROXY; it asks for gzip itself (the client's Accept-Encoding is
// dropped) so the relay reads the usage in plain text and the sandbox gets
// plain text.
var upstreamTransport http.RoundTripper = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = 90 * time.Second
	return t
}()

// modelHandler serves one turn's model socket: the turn token in, the real
// credential out, the response streamed back as it comes.
func (r *Relay) modelHandler(t *turnRelay) http.Handler {
	apiKey, authToken := r.cfg.Model.APIKey, r.cfg.Model.AuthToken
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(r.upstream)
			h := pr.Out.Header
			h.Del("X-Api-Key")
			h.Del("Authorization")
			h.Del("Proxy-Authorization")
			h.Del("Accept-Encoding")
			if apiKey != "" {
				h.Set("X-Api-Key", apiKey)
			}
			if authToken != "" {
				h.Set("Authorization", "Bearer "+authToken)
			}
		},
		Transport:     upstreamTransport,
		FlushInterval: -1, // every write reaches the sandbox at once
		ModifyResponse: func(resp *http.Response) error {
			meterResponse(resp)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			meterFailure(req)
			if errors.Is(err, req.Context().Err()) {
				return // the sandbox went away, or the turn ended
			}
			r.metrics.upstreamErrors.Inc()
			r.log.Warn("model API unreachable through the relay", zap.String("message_id", t.turn.MessageID),
				zap.String("upstream", r.upstream.Host), zap.Error(err))
			writeAPIError(w, http.StatusBadGateway, "api_error", "model relay: the model API is unreachable")
		},
		ErrorLog: zap.NewStdLog(r.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !t.authorized(req) {
			r.metrics.refused.Inc()
			writeAPIError(w, http.StatusUnauthorized, "authentication_error", "model relay: invalid or expired turn token")
			return
		}
		if !modelEndpoint(req.Method, req.URL) {
			r.metrics.refused.Inc()
			writeAPIError(w, http.StatusForbidden, "permission_error", "model relay: only the Messages and Models endpoints are relayed")
			return
		}
		if metered(req) {
			if ex, first := t.meter.check(); ex != nil {
				t.meter.refuse(w, ex, first)
				return
			}
		}
		r.metrics.requests.WithLabelValues(t.conv.workspace, t.conv.conversation).Inc()
		req.Body = http.MaxBytesReader(w, req.Body, maxRequestBody)
		if metered(req) {
			req = t.meter.track(req)
		}
		proxy.ServeHTTP(w, req)
	})
}

// modelEndpoint says whether a request is one a turn needs: a message
// (streamed or not), a token count, the model list. Nothing that outlives the
// turn on the real key (message batches, files) or reaches other APIs.
func modelEndpoint(method string, u *url.URL) bool {
	p := u.Path
	if u.RawPath != "" || path.Clean(p) != p { // no dot segments or escapes to reinterpret upstream
		return false
	}
	switch {
	case method == http.MethodPost && (p == "/v1/messages" || p == "/v1/messages/count_tokens"):
		return true
	case method == http.MethodGet && (p == "/v1/models" || strings.HasPrefix(p, "/v1/models/")):
		return true
	}
	return false
}

// authorized accepts the turn's own token, as x-api-key or a bearer token.
func (t *turnRelay) authorized(req *http.Request) bool {
	got := req.Header.Get("X-Api-Key")
	if got == "" {
		if b, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			got = strings.TrimSpace(b)
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(t.token)) == 1
}

// writeAPIError answers in the model API's error shape, so the CLI reports it
// as it would the API's own.
func writeAPIError(w http.ResponseWriter, code int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"type":"error","error":{"type":"` + kind + `","message":"` + msg + `"}}`))
}
