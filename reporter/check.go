package reporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// CheckOrchestrator posts one runner.heartbeat (a notification the contract
// allows at any time) with the runner token, as the reporter would, and says
// what is wrong: what `validate` reports. A 2xx is nil; 401/403 name the
// token, 404 the URL's path; a transport error (unreachable, TLS) is
// returned wrapped. Nothing is stored in the outbox.
func CheckOrchestrator(ctx context.Context, cfg *config.Config, version string, client *http.Client) error {
	if client == nil {
		client = newHTTPClient()
	}
	hb := heartbeat(rpc.RunnerStatus{RunnerID: cfg.RunnerID, Version: version, Capacity: cfg.MaxConcurrent})
	if hb.err != nil {
		return hb.err
	}
	body := append(append([]byte{'['}, hb.buf...), ']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.OrchestratorURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("orchestrator URL %s: %w", redact(cfg.OrchestratorURL), err)
	}
	req.Header.Set(headerAuthorization, "Bearer "+cfg.RunnerToken)
	req.Header.Set(headerContentType, contentTypeJSON)
	req.Header.Set(headerRunnerID, cfg.RunnerID)
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("orchestrator request: %w", err) // the client strips passwords from URLs in errors
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	detail := ""
	if m := string(bytes.TrimSpace(bytes.ToValidUTF8(msg, []byte("?")))); m != "" {
		detail = ": " + m
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("the orchestrator refused the runner's credentials (HTTP %d): check CLAUDETTE_RUNNER_TOKEN and that the token is allowed for runner id %q", code, cfg.RunnerID)
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return fmt.Errorf("no JSON-RPC endpoint at %s (HTTP %d): check the path of CLAUDETTE_ORCHESTRATOR_URL", redact(cfg.OrchestratorURL), code)
	case code >= 300 && code < 400:
		return fmt.Errorf("the orchestrator redirects (HTTP %d to %s): set CLAUDETTE_ORCHESTRATOR_URL to the final URL", code, redact(resp.Header.Get("Location")))
	default:
		return fmt.Errorf("the orchestrator answered a heartbeat with HTTP %d%s", code, detail)
	}
}
