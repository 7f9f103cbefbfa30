package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
)

const (
	svcToken = "validate-runner-token-do-not-log"
	goodKey  = "sk-ant-good-key-do-not-log"
)

// fakeModel answers GET /v1/models: 200 for goodKey, 401 for any other.
func fakeModel(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/v1/models":
			http.NotFound(w, r)
		case r.Header.Get("X-Api-Key") != goodKey:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`))
		default:
			_, _ = w.Write([]byte(`{"data":[],"has_more":false}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gitHost is an HTTPS server whose certificate the runner trusts through
// SSL_CERT_FILE (returned), as a git host with a real certificate.
func gitHost(t *testing.T) (host, caFile string) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(srv.URL, "https://"), caFile
}

func validateArgs(t *testing.T, image string, extra ...string) []string {
	return append([]string{"validate", "--data-dir", filepath.Join(t.TempDir(), "d"), "--workspace-dir", filepath.Join(t.TempDir(), "w"),
		"--sandbox-image", image, "--runner-id", "validate-runner"}, extra...)
}

// problemLines are the lines of validate's problem list.
func problemLines(out string) []string {
	_, list, ok := strings.Cut(out, "problem(s):\n")
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimSpace(list), "\n")
}

// Every service answering: validate says so for each and exits 0; the
// orchestrator got one authenticated heartbeat.
func TestValidateReachesTheServices(t *testing.T) {
	electric := electrictest.New(t, electrictest.WithBearerToken(svcToken))
	orch := orchestratortest.New(t, orchestratortest.Options{Token: svcToken, RunnerID: "validate-runner"})
	model := fakeModel(t)
	host, ca := gitHost(t)
	env := map[string]string{
		"CLAUDETTE_RUNNER_TOKEN": svcToken, "CLAUDETTE_ELECTRICSQL_URL": electric.URL(), "CLAUDETTE_ORCHESTRATOR_URL": orch.URL,
		"ANTHROPIC_API_KEY": goodKey, "ANTHROPIC_BASE_URL": model.URL, "CLAUDETTE_GIT_TOKENS": host + "=ghp_secret-do-not-log",
		"SSL_CERT_FILE": ca,
	}
	code, out, errOut := runBinary(t, env, validateArgs(t, demotest.Image(t))...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"electric: answers", "orchestrator: answers", "model API: answers", "git host " + host + ": answers"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	if hb := orch.Heartbeats(); len(hb) != 1 || hb[0].RunnerID != "validate-runner" {
		t.Errorf("heartbeats %+v, want one of validate-runner", hb)
	}
	for _, secret := range []string{svcToken, goodKey, "ghp_secret-do-not-log"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("validate output leaks %q", secret)
		}
	}
}

// Each broken service, bad token and missing credential is its own problem
// line saying what to do; --offline asks none of them.
func TestValidateReportsEachBrokenService(t *testing.T) {
	refused := electrictest.New(t, electrictest.WithBearerToken("another-token"))
	shapeless := electrictest.New(t, electrictest.WithBearerToken(svcToken))
	shapeless.Inject(electrictest.BadRequest("table", "table \"runner_messages\" does not exist"))
	orch := orchestratortest.New(t, orchestratortest.Options{Token: "another-token", AllowViolations: true})
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	model := fakeModel(t)
	base := map[string]string{"CLAUDETTE_RUNNER_TOKEN": svcToken, "ANTHROPIC_BASE_URL": model.URL}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	cases := map[string]struct {
		env   map[string]string
		image string
		want  []string // one problem line each
	}{
		"bad tokens and a wrong path, a dead git host": {
			env: with("CLAUDETTE_ELECTRICSQL_URL", refused.URL(), "CLAUDETTE_ORCHESTRATOR_URL", orch.URL,
				"ANTHROPIC_API_KEY", "sk-ant-bad-key", "CLAUDETTE_GIT_TOKENS", "127.0.0.1:1=ghp_x"),
			want: []string{
				"electric: electric rejected the runner token (HTTP 401): check CLAUDETTE_RUNNER_TOKEN",
				"orchestrator: the orchestrator refused the runner's credentials (HTTP 401): check CLAUDETTE_RUNNER_TOKEN",
				"model API: the model API at " + model.URL + " refused the credential (HTTP 401): check ANTHROPIC_API_KEY",
				"git host 127.0.0.1:1: unreachable:",
			},
		},
		"shape refused, orchestrator path wrong, electric over TLS to plain HTTP, no credential": {
			env: with("CLAUDETTE_ELECTRICSQL_URL", shapeless.URL(), "CLAUDETTE_ORCHESTRATOR_URL", notFound.URL+"/wrong/path"),
			want: []string{
				"electric: electric rejected the shape request (HTTP 400",
				"orchestrator: no JSON-RPC endpoint at " + notFound.URL + "/wrong/path (HTTP 404): check the path of CLAUDETTE_ORCHESTRATOR_URL",
				"model credential: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN",
			},
			image: "claudette-test/not-the-demo:1",
		},
		"TLS to a plain server, unreachable orchestrator": {
			env: with("CLAUDETTE_ELECTRICSQL_URL", strings.Replace(refused.URL(), "http://", "https://", 1),
				"CLAUDETTE_ORCHESTRATOR_URL", "http://127.0.0.1:1/rpc", "ANTHROPIC_API_KEY", goodKey),
			want: []string{"electric: TLS error:", "orchestrator: unreachable:"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			image := demotest.Image(t)
			args := validateArgs(t, image)
			if c.image != "" {
				args = validateArgs(t, c.image, "--sandbox-pull", "never")
			}
			code, out, errOut := runBinary(t, c.env, args...)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, out, errOut)
			}
			lines := problemLines(out)
			for _, want := range c.want {
				n := 0
				for _, l := range lines {
					if strings.Contains(l, want) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d problem lines with %q, want 1:\n%s", n, want, strings.Join(lines, "\n"))
				}
			}
			if strings.Contains(out, svcToken) || strings.Contains(out, "sk-ant-bad-key") {
				t.Errorf("validate output leaks a credential:\n%s", out)
			}
			if c.image != "" {
				return
			}
			code, out, _ = runBinary(t, c.env, append(args, "--offline")...)
			if code != exitOK || !strings.Contains(out, "Services: not checked (--offline)") {
				t.Errorf("--offline: exit %d\n%s", code, out)
			}
		})
	}
}
