package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

// CheckShape asks Electric once for the runner's shape from its start (not
// live) with the runner token, as the intake's first request does, and says
// what is wrong: what `validate` reports. A 2xx (or a 409: the shape exists)
// is nil; 401/403 name the token, 400 the shape (table or column missing);
// a transport error (unreachable, TLS) is returned wrapped, redacted. The
// body is not read beyond a little: nothing is journaled or dispatched.
func CheckShape(ctx context.Context, cfg *config.Config, client *http.Client) error {
	base, err := shapeURL(cfg.ElectricURL)
	if err != nil {
		return err
	}
	if client == nil {
		client = newHTTPClient()
	}
	s := &stream{base: base, runner: cfg.RunnerID, token: cfg.RunnerToken, client: client}
	s.pos.Offset = "-1"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.requestURL(), nil)
	if err != nil {
		return fmt.Errorf("build electric request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cfg.RunnerToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("electric request: %w", redact(err))
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	if (code >= 200 && code < 300) || code == http.StatusConflict {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	var se *statusError
	if !errors.As(readStatusError(resp), &se) {
		return fmt.Errorf("electric answered HTTP %d", code)
	}
	i := &Intake{cfg: cfg}
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		return errors.New(i.authReason(se))
	}
	return errors.New(i.rejectReason(se))
}
