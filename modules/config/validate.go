package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// IDPattern is what runner, workspace and conversation ids must match (CONTRACT.md section 2).
var IDPattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

var hostRule = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// Validate checks everything `start` needs, including the settings it requires
// (runner token, Electric URL, orchestrator URL). Dirs are created when missing.
func (c *Config) Validate() Problems { return c.validate(true) }

// ValidateLocal checks what a local `exec` needs: everything but the connections.
func (c *Config) ValidateLocal() Problems { return c.validate(false) }

func (c *Config) validate(remote bool) Problems {
	v := validator{}
	if remote {
		v.require("runnerToken", c.RunnerToken)
		v.require("electricUrl", c.ElectricURL)
		v.require("orchestratorUrl", c.OrchestratorURL)
	}
	v.httpURL("electricUrl", c.ElectricURL)
	v.httpURL("orchestratorUrl", c.OrchestratorURL)
	v.httpURL("anthropicBaseUrl", c.Model.BaseURL)
	if !IDPattern.MatchString(c.RunnerID) {
		v.fail("runnerId", "must be 1-64 of A-Z a-z 0-9 . _ - and not start with '.', got %q", c.RunnerID)
	}
	v.atLeast("maxConcurrent", int64(c.MaxConcurrent), 1)
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		v.fail("listen", "must be host:port, got %q", c.Listen)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.fail("listen", "port must be a number, got %q", port)
	}

	v.positive("turnTimeout", int64(c.TurnTimeout))
	v.positive("shutdownTimeout", int64(c.ShutdownTimeout))
	v.positive("sandbox.stopGrace", int64(c.Sandbox.StopGrace))
	v.atLeast("sandbox.idle", int64(c.Sandbox.Idle), 0)
	v.positive("heartbeatInterval", int64(c.Outbox.HeartbeatInterval))
	v.positive("journalMaxAge", int64(c.Intake.JournalMaxAge))
	v.atLeast("journalMaxEntries", int64(c.Intake.JournalMaxEntries), 1)
	v.atLeast("logMaxBackups", int64(c.Log.MaxBackups), 0)
	v.atLeast("logMaxAge", int64(c.Log.MaxAge), 0)

	v.minSize("sandbox.memory", c.Sandbox.Memory, 6<<20)
	v.minSize("sandbox.tmpSize", c.Sandbox.TmpSize, 1<<20)
	v.minSize("sandbox.lineLimit", c.Sandbox.LineLimit, 1<<10)
	v.minSize("sandbox.outputLimit", c.Sandbox.OutputLimit, c.Sandbox.LineLimit)
	v.minSize("outboxMaxSize", c.Outbox.MaxSize, 1<<20)
	v.minSize("logMaxSize", c.Log.MaxSize, 1<<20)
	if c.Sandbox.CPUs <= 0 {
		v.fail("sandbox.cpus", "must be more than 0, got %v", c.Sandbox.CPUs)
	}
	v.atLeast("sandbox.pids", c.Sandbox.Pids, 8)
	v.atLeast("sandbox.nofile", c.Sandbox.NoFile, 64)
	if strings.TrimSpace(c.Sandbox.Image) == "" {
		v.fail("sandbox.image", "must not be empty")
	}
	v.oneOf("sandbox.pull", c.Sandbox.Pull, PullAlways, PullIfNotPresent, PullNever)
	v.oneOf("sandbox.network", c.Sandbox.Network, NetworkIsolated, NetworkOpen)
	if _, _, err := ParseUser(c.Sandbox.User); err != nil {
		v.fail("sandbox.user", "%v", err)
	}
	for _, rule := range c.Sandbox.EgressAllow {
		if err := checkEgressRule(rule); err != nil {
			v.fail("sandbox.egressAllow", "%v", err)
		}
	}
	for _, pat := range c.Git.PushBranches {
		if err := checkBranchPattern(pat); err != nil {
			v.fail("gitPushBranches", "%v", err)
		}
	}
	if _, err := ParseAuthor(c.Git.Author); err != nil {
		v.fail("gitAuthor", "%v", err)
	}
	v.minSize("gitPushMaxSize", c.Git.PushMaxSize, 1<<20)
	v.atLeast("maxTurnTokens", c.Meter.MaxTurnTokens, 0)
	v.atLeast("maxConversationTokens", c.Meter.MaxConversationTokens, 0)
	if c.Meter.MaxTurnUSD < 0 {
		v.fail("maxTurnUsd", "must not be negative, got %v", c.Meter.MaxTurnUSD)
	}
	if c.Meter.MaxConversationUSD < 0 {
		v.fail("maxConversationUsd", "must not be negative, got %v", c.Meter.MaxConversationUSD)
	}
	if (c.Meter.MaxTurnUSD > 0 || c.Meter.MaxConversationUSD > 0) && c.Meter.ModelPrices == "" {
		v.fail("modelPrices", "is required by a dollar budget (maxTurnUsd, maxConversationUsd)")
	}
	if c.Sandbox.Disk != 0 {
		v.minSize("sandbox.disk", c.Sandbox.Disk, 16<<20)
	}
	if _, err := ParseGitTokens(c.Git.Tokens); err != nil {
		v.fail("gitTokens", "%v", err)
	}
	v.writableDir("dataDir", c.DataDir)
	v.writableDir("workspaceDir", c.WorkspaceDir)
	return v.problems
}

// ParseUser reads "uid:gid" and refuses root: the agent never runs as uid 0.
func ParseUser(s string) (uid, gid int, err error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("must be numeric uid:gid, got %q", s)
	}
	if uid == 0 {
		return 0, 0, fmt.Errorf("must not be root (uid 0), got %q", s)
	}
	return uid, gid, nil
}

// ParseGitTokens reads "host=token,host2=token2" into a map by host.
func ParseGitTokens(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, entry := range splitList(s) {
		host, token, ok := strings.Cut(entry, "=")
		host = strings.ToLower(strings.TrimSpace(host))
		if !ok || host == "" || token == "" {
			return nil, fmt.Errorf("each entry must be host=token (entry %d is not)", len(out)+1)
		}
		out[host] = strings.TrimSpace(token)
	}
	return out, nil
}

type validator struct{ problems Problems }

func (v *validator) fail(key, format string, args ...any) {
	s, _ := byKey(key)
	v.problems = append(v.problems, Problem{Setting: s.source(), Message: fmt.Sprintf(format, args...)})
}

func (v *validator) require(key, val string) {
	if strings.TrimSpace(val) == "" {
		v.fail(key, "required for start")
	}
}

func (v *validator) httpURL(key, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(key, "must be an http:// or https:// URL, got %q", raw)
	}
}

func (v *validator) positive(key string, n int64) {
	if n <= 0 {
		v.fail(key, "must be more than 0")
	}
}

func (v *validator) atLeast(key string, n, least int64) {
	if n < least {
		v.fail(key, "must be at least %d, got %d", least, n)
	}
}

func (v *validator) minSize(key string, b, least ByteSize) {
	if b < least {
		v.fail(key, "must be at least %s, got %s", least, b)
	}
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.fail(key, "must be one of %s, got %q", strings.Join(allowed, ", "), val)
}

// writableDir creates dir when missing and proves it writable with a probe file.
func (v *validator) writableDir(key, dir string) {
	if strings.TrimSpace(dir) == "" {
		v.fail(key, "must not be empty")
		return
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		v.fail(key, "cannot create %s: %v", dir, err)
		return
	}
	f, err := os.CreateTemp(dir, ".claudette-probe-*")
	if err != nil {
		v.fail(key, "%s is not writable: %v", dir, err)
		return
	}
	f.Close()
	os.Remove(f.Name())
}
