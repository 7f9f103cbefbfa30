package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

// anthropicVersion is the API version header of the model check.
const anthropicVersion = "2023-06-01"

// CheckCredential reports a missing model credential: without
// ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN every turn fails at its first
// model call, except under the demo image, whose agent needs none.
func CheckCredential(cfg *config.Config, demoImage bool) error {
	if cfg.Model.APIKey != "" || cfg.Model.AuthToken != "" || demoImage {
		return nil
	}
	return errors.New("no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN: every turn would fail at its first model call; set one (only the demo image runs without)")
}

// CheckModel makes one cheap authenticated request to the model API (GET
// /v1/models at ANTHROPIC_BASE_URL or the public API) with the runner's
// credential, as the relay would send it, and tells a bad credential from a
// good one: what `validate` reports. No credential: nil (CheckCredential
// says whether that is a problem). A transport error (unreachable, TLS) is
// returned wrapped. The credential is never part of an error.
func CheckModel(ctx context.Context, cfg *config.Config, client *http.Client) error {
	apiKey, authToken := cfg.Model.APIKey, cfg.Model.AuthToken
	if apiKey == "" && authToken == "" {
		return nil
	}
	base := cfg.Model.BaseURL
	if base == "" {
		base = DefaultUpstream
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("model base URL %s is not usable", redactURL(base))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/models"
	u.RawQuery = "limit=1"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("model API request: %w", err)
	}
	if apiKey != "" {
		req.Header.Set("X-Api-Key", apiKey)
	}
	if authToken != "" {
		req.Header.Set("Authorization", "Bearer "+authToken)
	}
	req.Header.Set("Anthropic-Version", anthropicVersion)
	if client == nil {
		client = &http.Client{Transport: upstreamTransport}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("model API at %s: %w", redactURL(base), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	which := "ANTHROPIC_API_KEY"
	if apiKey == "" {
		which = "ANTHROPIC_AUTH_TOKEN"
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("the model API at %s refused the credential (HTTP %d): check %s", redactURL(base), code, which)
	case code == http.StatusNotFound:
		return fmt.Errorf("no model API at %s (HTTP 404 for /v1/models): check ANTHROPIC_BASE_URL", redactURL(base))
	default:
		return fmt.Errorf("the model API at %s answered HTTP %d to a models request", redactURL(base), code)
	}
}
