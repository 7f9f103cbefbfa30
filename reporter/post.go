package reporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/retry"
)

// Wire headers of CONTRACT.md section 3.
const (
	headerAuthorization = "Authorization"
	headerContentType   = "Content-Type"
	headerRunnerID      = "X-Claudette-Runner-Id"
	contentTypeJSON     = "application/json"
)

const (
	maxLoggedResponse = 1 << 10 // bytes of a response body in a log line
	maxLoggedBatch    = 1 << 10 // bytes of a batch in a debug log line
	maxRetryAfter     = 10 * time.Minute
)

// postResult is the outcome of one POST.
type postResult struct {
	outcome    string
	status     int
	retryAfter time.Duration
	body       []byte // start of the response body, for the log
	err        error
}

// post sends one batch and classifies the answer.
func post(ctx context.Context, r *Reporter, body []byte) postResult {
	ctx, cancel := context.WithTimeout(ctx, r.tune.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return postResult{outcome: outcomeRetry, err: fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set(headerAuthorization, "Bearer "+r.cfg.RunnerToken)
	req.Header.Set(headerContentType, contentTypeJSON)
	req.Header.Set(headerRunnerID, r.cfg.RunnerID)
	resp, err := r.client.Do(req)
	if err != nil {
		return postResult{outcome: outcomeRetry, err: err} // the client strips passwords from URLs in errors
	}
	defer resp.Body.Close()
	res := postResult{status: resp.StatusCode}
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		res.outcome = outcomeDelivered
	} else {
		res.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxLoggedResponse))
		res.body = bytes.ToValidUTF8(res.body, []byte("?"))
		switch {
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			res.outcome = outcomeUnauthorized
		case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
			res.outcome = outcomeRetry
			res.retryAfter = min(retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), maxRetryAfter)
		case code >= 400:
			res.outcome = outcomeRejected
		default: // 1xx, 3xx: not an answer the contract knows; keep the batch
			res.outcome = outcomeRetry
			res.err = fmt.Errorf("unexpected HTTP status %d", code)
		}
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return res
}

func unauthorizedCause(status int, retry time.Duration) string {
	return fmt.Sprintf("orchestrator refused the runner's credentials (HTTP %d %s): check CLAUDETTE_RUNNER_TOKEN and the runner id; "+
		"items stay in the outbox, retrying every %s", status, http.StatusText(status), retry)
}

func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}
