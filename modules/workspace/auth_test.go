package workspace

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
	"go.uber.org/zap/zapcore"
)

func TestTokenIsUsedButNeverWritten(t *testing.T) {
	t.Parallel()
	const token = "tok-5ecret-7f3a9c"
	s := newServed(t)
	s.srv.RequireToken(token)

	// Without a token for the host, the clone is refused by the server.
	anon := newHarness(t, nil)
	_, err := anon.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url})
	if err == nil || errdefs.IsInvalidArgument(err) || !errdefs.IsUnauthorized(err) {
		t.Fatalf("Prepare without a token = %v; want an unauthenticated checkout error", err)
	}
	assertOnlyWorkspaces(t, anon)

	for name, tokens := range map[string]string{
		"token":      "other.example.com=nope," + s.srv.Host() + "=" + token,
		"user:token": s.srv.Host() + "=robot:" + token,
		"host name":  "127.0.0.1=" + token,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *config.Config) { c.Git.Tokens = tokens })
			before := len(s.srv.Requests())
			co, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url, Ref: "feature"})
			if err != nil {
				t.Fatalf("Prepare with a token: %v", err)
			}
			reqs := s.srv.Requests()[before:]
			if len(reqs) == 0 {
				t.Fatal("no request reached the server")
			}
			for _, r := range reqs {
				if r.Status != http.StatusOK || !basicAuthHas(r.Authorization, token) {
					t.Errorf("request %s %s: status %d, Authorization %q; want 200 with the token", r.Method, r.Path, r.Status, r.Authorization)
				}
			}
			encoded := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
			for _, root := range []string{h.cfg.WorkspaceDir, h.cfg.DataDir} {
				for _, needle := range []string{token, encoded} {
					if found := filesContaining(t, root, []byte(needle)); len(found) > 0 {
						t.Errorf("token written to %v", found)
					}
				}
			}
			if cfg := readFile(t, co.GitDir+"/config"); !strings.Contains(cfg, "url = "+s.url+"\n") {
				t.Errorf(".git/config remote is not the bare URL:\n%s", cfg)
			}
			for _, e := range h.logs.All() {
				line := e.Message + fmt.Sprint(e.ContextMap())
				if strings.Contains(line, token) {
					t.Errorf("token logged: %s", line)
				}
			}
			if h.logs.FilterMessage("checkout ready").Len() != 1 {
				t.Errorf("no checkout log line; logs are %v", h.logs.All())
			}
		})
	}
}

func TestTokenOfAnotherHostIsNotSent(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, func(c *config.Config) { c.Git.Tokens = "github.com=ghp_not-for-this-host" })
	if _, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	for _, r := range s.srv.Requests() {
		if r.Authorization != "" {
			t.Errorf("request %s carried Authorization %q", r.Path, r.Authorization)
		}
	}
	if h.logs.FilterLevelExact(zapcore.ErrorLevel).Len() != 0 {
		t.Errorf("error logs: %v", h.logs.All())
	}
}

func basicAuthHas(header, token string) bool {
	b64, ok := strings.CutPrefix(header, "Basic ")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	return ok && user != "" && pass == token
}
