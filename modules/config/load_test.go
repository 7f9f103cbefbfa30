package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runner.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// load runs the CLI's path: parse flags, then Load with a file and an environment.
func load(t *testing.T, file string, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	l := NewLoader("test")
	if err := l.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return l.Load(Sources{File: file, LookupEnv: envOf(env)})
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `{"maxConcurrent": 2, "runnerId": "from-file", "sandbox": {"memory": "1g", "image": "file/img"},
		"turnTimeout": "10m", "sandbox.cpus": 1.5}`)
	tests := map[string]struct {
		file string
		env  map[string]string
		args []string
		get  func(*Config) any
		want any
	}{
		"default max-concurrent":  {get: func(c *Config) any { return c.MaxConcurrent }, want: 4},
		"file max-concurrent":     {file: file, get: func(c *Config) any { return c.MaxConcurrent }, want: 2},
		"env beats file":          {file: file, env: map[string]string{"CLAUDETTE_MAX_CONCURRENT": "3"}, get: func(c *Config) any { return c.MaxConcurrent }, want: 3},
		"flag beats env and file": {file: file, env: map[string]string{"CLAUDETTE_MAX_CONCURRENT": "3"}, args: []string{"--max-concurrent", "9"}, get: func(c *Config) any { return c.MaxConcurrent }, want: 9},
		"default memory":          {get: func(c *Config) any { return c.Sandbox.Memory }, want: ByteSize(2 << 30)},
		"nested file memory":      {file: file, get: func(c *Config) any { return c.Sandbox.Memory }, want: ByteSize(1 << 30)},
		"env memory":              {file: file, env: map[string]string{"CLAUDETTE_SANDBOX_MEMORY": "512m"}, get: func(c *Config) any { return c.Sandbox.Memory }, want: ByteSize(512 << 20)},
		"flag memory":             {file: file, env: map[string]string{"CLAUDETTE_SANDBOX_MEMORY": "512m"}, args: []string{"--sandbox-memory=3g"}, get: func(c *Config) any { return c.Sandbox.Memory }, want: ByteSize(3 << 30)},
		"dotted file key":         {file: file, get: func(c *Config) any { return c.Sandbox.CPUs }, want: 1.5},
		"file runner id":          {file: file, get: func(c *Config) any { return c.RunnerID }, want: "from-file"},
		"env runner id":           {file: file, env: map[string]string{"CLAUDETTE_RUNNER_ID": "from-env"}, get: func(c *Config) any { return c.RunnerID }, want: "from-env"},
		"flag runner id":          {file: file, env: map[string]string{"CLAUDETTE_RUNNER_ID": "from-env"}, args: []string{"--runner-id", "from-flag"}, get: func(c *Config) any { return c.RunnerID }, want: "from-flag"},
		"default turn timeout":    {get: func(c *Config) any { return c.TurnTimeout }, want: 30 * time.Minute},
		"file turn timeout":       {file: file, get: func(c *Config) any { return c.TurnTimeout }, want: 10 * time.Minute},
		"env turn timeout":        {file: file, env: map[string]string{"CLAUDETTE_TURN_TIMEOUT": "45m"}, get: func(c *Config) any { return c.TurnTimeout }, want: 45 * time.Minute},
		"file image":              {file: file, get: func(c *Config) any { return c.Sandbox.Image }, want: "file/img"},
		"flag image":              {file: file, env: map[string]string{"CLAUDETTE_SANDBOX_IMAGE": "env/img"}, args: []string{"--sandbox-image", "flag/img"}, get: func(c *Config) any { return c.Sandbox.Image }, want: "flag/img"},
		"config path from env":    {env: map[string]string{"CLAUDETTE_CONFIG": file}, get: func(c *Config) any { return c.MaxConcurrent }, want: 2},
		"config path from flag":   {args: []string{"-c", file}, get: func(c *Config) any { return c.RunnerID }, want: "from-file"},
		"DEBUG any value":         {env: map[string]string{"DEBUG": "yes please"}, get: func(c *Config) any { return c.Debug }, want: true},
		"DEBUG=0 is off":          {env: map[string]string{"DEBUG": "0"}, get: func(c *Config) any { return c.Debug }, want: false},
		"DEBUG=false is off":      {env: map[string]string{"DEBUG": "FALSE"}, get: func(c *Config) any { return c.Debug }, want: false},
		"-d flag":                 {args: []string{"-d"}, get: func(c *Config) any { return c.Debug }, want: true},
		"token from env":          {env: map[string]string{"CLAUDETTE_RUNNER_TOKEN": "t0k"}, get: func(c *Config) any { return c.RunnerToken }, want: "t0k"},
		"list from env":           {env: map[string]string{"CLAUDETTE_SANDBOX_EGRESS_ALLOW": "a.com, *.b.org"}, get: func(c *Config) any { return strings.Join(c.Sandbox.EgressAllow, "|") }, want: "a.com|*.b.org"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := load(t, tc.file, tc.env, tc.args...)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if got := tc.get(cfg); got != tc.want {
				t.Fatalf("got %v (%T), want %v (%T)", got, got, tc.want, tc.want)
			}
		})
	}
}

func TestOverridesForEmbedding(t *testing.T) {
	cfg, err := Load(Sources{LookupEnv: envOf(map[string]string{"CLAUDETTE_MAX_CONCURRENT": "3"}),
		Overrides: map[string]string{"maxConcurrent": "7", "sandbox.image": "x/y"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrent != 7 || cfg.Sandbox.Image != "x/y" {
		t.Fatalf("overrides not applied: %d %s", cfg.MaxConcurrent, cfg.Sandbox.Image)
	}
	_, err = Load(Sources{Overrides: map[string]string{"maxConcurent": "7"}})
	if err == nil || !strings.Contains(err.Error(), "maxConcurent") {
		t.Fatalf("unknown override key not reported: %v", err)
	}
}

func TestLoadProblems(t *testing.T) {
	tests := map[string]struct {
		file string
		env  map[string]string
		args []string
		want []string // substrings of the one problem line
	}{
		"unknown file key":     {file: `{"maxConcurent": 3}`, want: []string{`unknown key "maxConcurent"`, `did you mean "maxConcurrent"`}},
		"unknown nested key":   {file: `{"sandbox": {"imag": "x"}}`, want: []string{`unknown key "sandbox.imag"`}},
		"file not JSON":        {file: `{"maxConcurrent": `, want: []string{"not a JSON object"}},
		"bad size in file":     {file: `{"sandbox.memory": "2x"}`, want: []string{"--sandbox-memory", "CLAUDETTE_SANDBOX_MEMORY", "sandbox.memory", `invalid size "2x"`}},
		"bad size in env":      {env: map[string]string{"CLAUDETTE_SANDBOX_MEMORY": "lots"}, want: []string{"--sandbox-memory", `invalid size "lots"`, "in CLAUDETTE_SANDBOX_MEMORY"}},
		"bad duration in flag": {args: []string{"--turn-timeout", "soon"}, want: []string{"--turn-timeout", "CLAUDETTE_TURN_TIMEOUT", "turnTimeout", `invalid duration "soon"`}},
		"bad number in env":    {env: map[string]string{"CLAUDETTE_MAX_CONCURRENT": "four"}, want: []string{"--max-concurrent", `invalid whole number "four"`}},
		"bad float in flag":    {args: []string{"--sandbox-cpus", "two"}, want: []string{"--sandbox-cpus", `invalid number "two"`}},
		"bad switch in env":    {env: map[string]string{"CLAUDETTE_ALLOW_HTTP_REPOS": "maybe"}, want: []string{"--allow-http-repos", `invalid switch "maybe"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			file := ""
			if tc.file != "" {
				file = writeFile(t, tc.file)
			}
			_, err := load(t, file, tc.env, tc.args...)
			var problems Problems
			if !errors.As(err, &problems) || len(problems) != 1 {
				t.Fatalf("want exactly one problem, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(problems[0].String(), w) {
					t.Errorf("problem %q does not contain %q", problems[0], w)
				}
			}
		})
	}
	if _, err := load(t, filepath.Join(t.TempDir(), "missing.json"), nil); err == nil || !strings.Contains(err.Error(), "cannot read config file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"--max-concurrent"}} {
		if err := NewLoader("test").Parse(args); err == nil {
			t.Errorf("%v: want a usage error", args)
		}
	}
}
