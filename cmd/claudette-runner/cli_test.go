package main

import (
	"bytes"
	"os"
	"os/exec"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// contractSettings is CONTRACT.md section 1: every flag with its env var, and the env-only settings.
var contractSettings = []struct{ flag, env string }{
	{"-c, --config", "CLAUDETTE_CONFIG"},
	{"-d, --debug", "DEBUG"},
	{"--data-dir", "CLAUDETTE_DATA_DIR"},
	{"--workspace-dir", "CLAUDETTE_WORKSPACE_DIR"},
	{"--runner-id", "CLAUDETTE_RUNNER_ID"},
	{"--max-concurrent", "CLAUDETTE_MAX_CONCURRENT"},
	{"", "CLAUDETTE_RUNNER_TOKEN"},
	{"--electric-url", "CLAUDETTE_ELECTRICSQL_URL"},
	{"--orchestrator-url", "CLAUDETTE_ORCHESTRATOR_URL"},
	{"--sandbox-image", "CLAUDETTE_SANDBOX_IMAGE"},
	{"--sandbox-memory", "CLAUDETTE_SANDBOX_MEMORY"},
	{"--sandbox-cpus", "CLAUDETTE_SANDBOX_CPUS"},
	{"--sandbox-pids", "CLAUDETTE_SANDBOX_PIDS"},
	{"--sandbox-runtime", "CLAUDETTE_SANDBOX_RUNTIME"},
	{"--turn-timeout", "CLAUDETTE_TURN_TIMEOUT"},
	{"--listen", "CLAUDETTE_LISTEN"},
	{"--shutdown-timeout", "CLAUDETTE_SHUTDOWN_TIMEOUT"},
	{"", "ANTHROPIC_API_KEY"},
	{"", "ANTHROPIC_AUTH_TOKEN"},
	{"", "ANTHROPIC_BASE_URL"},
}

func TestHelpListsEveryContractSetting(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"start", "--help"}, {"validate", "-h"}} {
		code, out, _ := runCLI(t, nil, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
		lines := strings.Split(out, "\n")
		for _, s := range contractSettings {
			found := false
			for _, l := range lines {
				if strings.Contains(l, s.env) && (s.flag == "" || strings.Contains(l, s.flag+" ") || strings.HasSuffix(strings.Fields(l)[0], s.flag)) {
					found = true
				}
			}
			if !found {
				t.Errorf("%v: no help line with %q and %q", args, s.flag, s.env)
			}
		}
		if !strings.Contains(out, "(default 2g)") || !strings.Contains(out, "(default 127.0.0.1:9464)") {
			t.Errorf("%v: defaults not shown", args)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-V"}, {"--version"}, {"validate", "-V"}} {
		code, out, _ := runCLI(t, nil, args...)
		if code != exitOK || !strings.HasPrefix(out, "claudette-runner ") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"--no-such-flag"}, {"validate", "--max-concurrent"}, {"validate", "extra-arg"}} {
		code, _, errOut := runCLI(t, nil, args...)
		if code != exitUsage || !strings.Contains(errOut, "--help") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// runBinary runs the built runner (static, as the relay's shim must be) as a process.
func runBinary(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestValidateExitCodes(t *testing.T) {
	dirs := []string{"--data-dir", filepath.Join(t.TempDir(), "d"), "--workspace-dir", filepath.Join(t.TempDir(), "w"),
		"--sandbox-image", demotest.Image(t)}
	good := map[string]string{
		"CLAUDETTE_RUNNER_TOKEN":     "super-secret-token",
		"CLAUDETTE_ELECTRICSQL_URL":  "http://127.0.0.1:1",
		"CLAUDETTE_ORCHESTRATOR_URL": "http://127.0.0.1:1/rpc",
		"ANTHROPIC_API_KEY":          "sk-ant-very-secret",
	}
	code, out, _ := runBinary(t, good, append([]string{"validate", "--offline"}, dirs...)...)
	if code != exitOK || !strings.Contains(out, "OK: no problems found") {
		t.Fatalf("valid config: exit %d\n%s", code, out)
	}
	for _, want := range []string{"Docker engine:", "limits enforceable: memory yes", "sandbox image " + demotest.Image(t) + ": present"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q", want)
		}
	}
	for _, secret := range []string{"super-secret-token", "sk-ant-very-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("validate output leaks %q", secret)
		}
	}

	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(`{"claude-x":{"input":3,"output":"15","cacheCreation":3.75,"cacheRead":0.3}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runBinary(t, map[string]string{"CLAUDETTE_RUNNER_TOKEN": ""},
		append([]string{"validate", "--max-concurrent", "0", "--sandbox-memory", "2x", "--electric-url", "ftp://x",
			"--model-prices", prices, "--sandbox-egress-allow", "github.com:443,x.com:0"}, dirs...)...)
	if code != exitFailed {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{
		"--max-concurrent / CLAUDETTE_MAX_CONCURRENT / config key maxConcurrent: must be at least 1",
		`--sandbox-memory / CLAUDETTE_SANDBOX_MEMORY / config key sandbox.memory: invalid size "2x"`,
		"--electric-url / CLAUDETTE_ELECTRICSQL_URL / config key electricUrl: must be an http:// or https:// URL",
		"CLAUDETTE_RUNNER_TOKEN / config key runnerToken: required for start",
		`--model-prices / CLAUDETTE_MODEL_PRICES / config key modelPrices: model prices ` + prices + `: model "claude-x": field "output" must be`,
		`--sandbox-egress-allow / CLAUDETTE_SANDBOX_EGRESS_ALLOW / config key sandbox.egressAllow: "x.com:0": the port must be`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

func TestValidateReportsEngineProblems(t *testing.T) {
	env := map[string]string{"CLAUDETTE_RUNNER_TOKEN": "t", "CLAUDETTE_ELECTRICSQL_URL": "http://127.0.0.1:1", "CLAUDETTE_ORCHESTRATOR_URL": "http://127.0.0.1:1"}
	code, out, _ := runBinary(t, env, "validate", "--data-dir", t.TempDir(), "--workspace-dir", t.TempDir(),
		"--sandbox-image", "claudette-test/no-such-image:never", "--sandbox-pull", "never", "--sandbox-runtime", "no-such-runtime")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{`sandbox runtime "no-such-runtime" (--sandbox-runtime) is not registered`} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}
