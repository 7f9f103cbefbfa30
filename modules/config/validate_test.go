package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// valid returns a configuration that passes Validate, in temp dirs.
func valid(t *testing.T) *Config {
	t.Helper()
	c := Defaults()
	c.DataDir = filepath.Join(t.TempDir(), "data")
	c.WorkspaceDir = filepath.Join(t.TempDir(), "ws")
	c.RunnerToken = "tok"
	c.ElectricURL = "http://127.0.0.1:3000"
	c.OrchestratorURL = "https://orchestrator.example/rpc"
	return c
}

func TestValidConfigHasNoProblems(t *testing.T) {
	c := valid(t)
	if p := c.Validate(); len(p) != 0 {
		t.Fatalf("problems: %v", p)
	}
	for _, dir := range []string{c.DataDir, c.WorkspaceDir} {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Fatalf("dir %s not created: %v", dir, err)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.MkdirAll(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	fileInTheWay := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(fileInTheWay, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		mutate func(*Config)
		want   []string
	}{
		"token required":          {func(c *Config) { c.RunnerToken = "" }, []string{"CLAUDETTE_RUNNER_TOKEN", "runnerToken", "required for start"}},
		"electric required":       {func(c *Config) { c.ElectricURL = "" }, []string{"--electric-url", "CLAUDETTE_ELECTRICSQL_URL", "electricUrl", "required"}},
		"orchestrator required":   {func(c *Config) { c.OrchestratorURL = "" }, []string{"--orchestrator-url", "CLAUDETTE_ORCHESTRATOR_URL", "required"}},
		"electric scheme":         {func(c *Config) { c.ElectricURL = "ftp://x" }, []string{"--electric-url", "http:// or https://"}},
		"orchestrator no host":    {func(c *Config) { c.OrchestratorURL = "http://" }, []string{"--orchestrator-url", "http:// or https://"}},
		"model base url scheme":   {func(c *Config) { c.Model.BaseURL = "file:///x" }, []string{"ANTHROPIC_BASE_URL", "http:// or https://"}},
		"max concurrent 0":        {func(c *Config) { c.MaxConcurrent = 0 }, []string{"--max-concurrent", "CLAUDETTE_MAX_CONCURRENT", "maxConcurrent", "at least 1"}},
		"runner id pattern":       {func(c *Config) { c.RunnerID = "../x" }, []string{"--runner-id", "must be 1-64"}},
		"listen":                  {func(c *Config) { c.Listen = "nowhere" }, []string{"--listen", "host:port"}},
		"listen port":             {func(c *Config) { c.Listen = "127.0.0.1:http" }, []string{"--listen", "port must be a number"}},
		"turn timeout":            {func(c *Config) { c.TurnTimeout = 0 }, []string{"--turn-timeout", "more than 0"}},
		"shutdown timeout":        {func(c *Config) { c.ShutdownTimeout = -1 }, []string{"--shutdown-timeout", "more than 0"}},
		"memory too small":        {func(c *Config) { c.Sandbox.Memory = 1 << 20 }, []string{"--sandbox-memory", "at least 6m"}},
		"cpus":                    {func(c *Config) { c.Sandbox.CPUs = 0 }, []string{"--sandbox-cpus", "more than 0"}},
		"pids":                    {func(c *Config) { c.Sandbox.Pids = 1 }, []string{"--sandbox-pids", "at least 8"}},
		"nofile":                  {func(c *Config) { c.Sandbox.NoFile = 10 }, []string{"--sandbox-nofile", "at least 64"}},
		"tmp size":                {func(c *Config) { c.Sandbox.TmpSize = 10 }, []string{"--sandbox-tmp-size", "at least 1m"}},
		"output below line limit": {func(c *Config) { c.Sandbox.OutputLimit = 1 << 20 }, []string{"--sandbox-output-limit", "at least 16m"}},
		"pull policy":             {func(c *Config) { c.Sandbox.Pull = "sometimes" }, []string{"--sandbox-pull", "always, if-not-present, never"}},
		"network":                 {func(c *Config) { c.Sandbox.Network = "host" }, []string{"--sandbox-network", "isolated, open"}},
		"root user":               {func(c *Config) { c.Sandbox.User = "0:0" }, []string{"--sandbox-user", "must not be root"}},
		"user format":             {func(c *Config) { c.Sandbox.User = "claude" }, []string{"--sandbox-user", "numeric uid:gid"}},
		"empty image":             {func(c *Config) { c.Sandbox.Image = " " }, []string{"--sandbox-image", "must not be empty"}},
		"egress rule":             {func(c *Config) { c.Sandbox.EgressAllow = []string{"http://x"} }, []string{"--sandbox-egress-allow", "not a host name"}},
		"egress rule port":        {func(c *Config) { c.Sandbox.EgressAllow = []string{"github.com:443", "x.com:0"} }, []string{"--sandbox-egress-allow", `"x.com:0": the port`}},
		"egress rule port name":   {func(c *Config) { c.Sandbox.EgressAllow = []string{"*.npmjs.org", "x.com:ssh"} }, []string{"--sandbox-egress-allow", "1 to 65535"}},
		"git tokens":              {func(c *Config) { c.Git.Tokens = "github.com" }, []string{"CLAUDETTE_GIT_TOKENS", "host=token"}},
		"journal entries":         {func(c *Config) { c.Intake.JournalMaxEntries = 0 }, []string{"--journal-max-entries", "at least 1"}},
		"outbox size":             {func(c *Config) { c.Outbox.MaxSize = 1024 }, []string{"--outbox-max-size", "at least 1m"}},
		"heartbeat":               {func(c *Config) { c.Outbox.HeartbeatInterval = 0 }, []string{"--heartbeat-interval", "more than 0"}},
		"log size":                {func(c *Config) { c.Log.MaxSize = 1000 }, []string{"--log-max-size", "at least 1m"}},
		"data dir not creatable":  {func(c *Config) { c.DataDir = filepath.Join(fileInTheWay, "sub") }, []string{"--data-dir", "CLAUDETTE_DATA_DIR", "cannot create"}},
		"workspace dir empty":     {func(c *Config) { c.WorkspaceDir = "" }, []string{"--workspace-dir", "must not be empty"}},
	}
	if os.Geteuid() != 0 { // root writes anywhere: the read-only case only means something for other users
		tests["data dir not writable"] = struct {
			mutate func(*Config)
			want   []string
		}{func(c *Config) { c.DataDir = readOnly }, []string{"--data-dir", "not writable"}}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := valid(t)
			tc.mutate(c)
			problems := c.Validate()
			if len(problems) != 1 {
				t.Fatalf("want one problem, got %d: %v", len(problems), problems)
			}
			for _, w := range tc.want {
				if !strings.Contains(problems[0].String(), w) {
					t.Errorf("problem %q does not contain %q", problems[0], w)
				}
			}
		})
	}
}

func TestValidateLocalNeedsNoConnections(t *testing.T) {
	c := valid(t)
	c.RunnerToken, c.ElectricURL, c.OrchestratorURL = "", "", ""
	if p := c.ValidateLocal(); len(p) != 0 {
		t.Fatalf("problems: %v", p)
	}
	if p := c.Validate(); len(p) != 3 {
		t.Fatalf("want 3 problems for start, got %v", p)
	}
}

func TestStringMasksSecrets(t *testing.T) {
	c := valid(t)
	c.RunnerToken = "runner-secret-1"
	c.Model.APIKey = "sk-ant-secret-2"
	c.Model.AuthToken = "bearer-secret-3"
	c.Git.Tokens = "github.com=ghp-secret-4"
	out := c.String()
	for _, s := range []string{"runner-secret-1", "sk-ant-secret-2", "bearer-secret-3", "ghp-secret-4"} {
		if strings.Contains(out, s) {
			t.Errorf("String() leaks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "runnerToken            = "+Masked) {
		t.Errorf("token not shown as masked:\n%s", out)
	}
}
