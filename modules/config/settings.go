package config

import (
	"strconv"
	"strings"
	"time"
)

// setting is one operator-facing knob: its flag, environment variable and config
// file key (CONTRACT.md section 1), and how to read and write it on a Config.
// An empty flag means environment and file only (secrets never go on a command line).
type setting struct {
	flag, short string
	env         string
	key         string
	group       string
	arg         string // placeholder in help: PATH, N, SIZE, DUR, URL
	usage       string
	secret      bool
	bind        func(c *Config) value
}

// Help groups, in the order --help prints them.
const (
	groupGeneral  = "General"
	groupConnect  = "Orchestrator and Electric"
	groupSandbox  = "Sandbox"
	groupTurns    = "Turns and workspaces"
	groupDelivery = "Intake and delivery"
	groupLogging  = "Logging"
)

var groupOrder = []string{groupGeneral, groupConnect, groupTurns, groupSandbox, groupDelivery, groupLogging}

// settings is the whole table. Keys are the camelCase of the flag; sandbox flags
// live under "sandbox." as CONTRACT.md shows ("sandbox.image").
var settings = []setting{
	{flag: "config", short: "c", env: "CLAUDETTE_CONFIG", group: groupGeneral, arg: "PATH",
		usage: "JSON config file", bind: func(c *Config) value { return stringValue(&c.ConfigFile) }},
	{flag: "debug", short: "d", env: "DEBUG", key: "debug", group: groupGeneral,
		usage: "debug logging, and debug.log", bind: func(c *Config) value { return boolValue(&c.Debug) }},
	{flag: "data-dir", env: "CLAUDETTE_DATA_DIR", key: "dataDir", group: groupGeneral, arg: "PATH",
		usage: "state, logs, per-workspace agent homes", bind: func(c *Config) value { return stringValue(&c.DataDir) }},
	{flag: "workspace-dir", env: "CLAUDETTE_WORKSPACE_DIR", key: "workspaceDir", group: groupGeneral, arg: "PATH",
		usage: "root of the per-workspace git checkouts", bind: func(c *Config) value { return stringValue(&c.WorkspaceDir) }},
	{flag: "runner-id", env: "CLAUDETTE_RUNNER_ID", key: "runnerId", group: groupGeneral, arg: "ID",
		usage: "this runner's id; selects its messages (default: host name)", bind: func(c *Config) value { return stringValue(&c.RunnerID) }},
	{flag: "listen", env: "CLAUDETTE_LISTEN", key: "listen", group: groupGeneral, arg: "ADDR",
		usage: "address of /healthz, /readyz and /metrics", bind: func(c *Config) value { return stringValue(&c.Listen) }},
	{flag: "shutdown-timeout", env: "CLAUDETTE_SHUTDOWN_TIMEOUT", key: "shutdownTimeout", group: groupGeneral, arg: "DUR",
		usage: "graceful stop bound on SIGINT/SIGTERM", bind: func(c *Config) value { return durationValue(&c.ShutdownTimeout) }},

	{env: "CLAUDETTE_RUNNER_TOKEN", key: "runnerToken", group: groupConnect, secret: true,
		usage: "bearer token for Electric and the orchestrator (required for start)", bind: func(c *Config) value { return stringValue(&c.RunnerToken) }},
	{flag: "electric-url", env: "CLAUDETTE_ELECTRICSQL_URL", key: "electricUrl", group: groupConnect, arg: "URL",
		usage: "Electric, or an auth proxy in front of it (required for start)", bind: func(c *Config) value { return stringValue(&c.ElectricURL) }},
	{flag: "orchestrator-url", env: "CLAUDETTE_ORCHESTRATOR_URL", key: "orchestratorUrl", group: groupConnect, arg: "URL",
		usage: "the orchestrator's JSON-RPC endpoint (required for start)", bind: func(c *Config) value { return stringValue(&c.OrchestratorURL) }},

	{flag: "max-concurrent", env: "CLAUDETTE_MAX_CONCURRENT", key: "maxConcurrent", group: groupTurns, arg: "N",
		usage: "conversation turns running at once", bind: func(c *Config) value { return intValue(&c.MaxConcurrent) }},
	{flag: "turn-timeout", env: "CLAUDETTE_TURN_TIMEOUT", key: "turnTimeout", group: groupTurns, arg: "DUR",
		usage: "wall-clock limit of one turn", bind: func(c *Config) value { return durationValue(&c.TurnTimeout) }},
	{env: "CLAUDETTE_GIT_TOKENS", key: "gitTokens", group: groupTurns, secret: true,
		usage: "git tokens per host, host=token[,host=token]; used by the runner only", bind: func(c *Config) value { return stringValue(&c.Git.Tokens) }},
	{flag: "allow-http-repos", env: "CLAUDETTE_ALLOW_HTTP_REPOS", key: "allowHttpRepos", group: groupTurns,
		usage: "accept http:// repository URLs (https:// only otherwise)", bind: func(c *Config) value { return boolValue(&c.Git.AllowHTTP) }},
	{flag: "git-push-branches", env: "CLAUDETTE_GIT_PUSH_BRANCHES", key: "gitPushBranches", group: groupTurns, arg: "LIST",
		usage: "branches the agent may push through the runner (* wildcards); empty = no pushing", bind: func(c *Config) value { return listValue(&c.Git.PushBranches) }},
	{flag: "git-author", env: "CLAUDETTE_GIT_AUTHOR", key: "gitAuthor", group: groupTurns, arg: "\"NAME <EMAIL>\"",
		usage: "identity of the agent's and the runner's commits", bind: func(c *Config) value { return stringValue(&c.Git.Author) }},
	{flag: "git-push-max-size", env: "CLAUDETTE_GIT_PUSH_MAX_SIZE", key: "gitPushMaxSize", group: groupTurns, arg: "SIZE",
		usage: "largest push the git relay forwards", bind: func(c *Config) value { return sizeValue(&c.Git.PushMaxSize) }},
	{flag: "max-turn-tokens", env: "CLAUDETTE_MAX_TURN_TOKENS", key: "maxTurnTokens", group: groupTurns, arg: "N",
		usage: "model tokens one turn may use, counted by the relay (0 = no budget)", bind: func(c *Config) value { return int64Value(&c.Meter.MaxTurnTokens) }},
	{flag: "max-conversation-tokens", env: "CLAUDETTE_MAX_CONVERSATION_TOKENS", key: "maxConversationTokens", group: groupTurns, arg: "N",
		usage: "model tokens one conversation may use across its turns (0 = no budget)", bind: func(c *Config) value { return int64Value(&c.Meter.MaxConversationTokens) }},
	{flag: "model-prices", env: "CLAUDETTE_MODEL_PRICES", key: "modelPrices", group: groupTurns, arg: "PATH",
		usage: "JSON file of USD per million tokens per model and kind; enables costUsd and dollar budgets", bind: func(c *Config) value { return stringValue(&c.Meter.ModelPrices) }},
	{flag: "max-turn-usd", env: "CLAUDETTE_MAX_TURN_USD", key: "maxTurnUsd", group: groupTurns, arg: "USD",
		usage: "model cost one turn may reach (needs --model-prices; 0 = no budget)", bind: func(c *Config) value { return floatValue(&c.Meter.MaxTurnUSD) }},
	{flag: "max-conversation-usd", env: "CLAUDETTE_MAX_CONVERSATION_USD", key: "maxConversationUsd", group: groupTurns, arg: "USD",
		usage: "model cost one conversation may reach (needs --model-prices; 0 = no budget)", bind: func(c *Config) value { return floatValue(&c.Meter.MaxConversationUSD) }},
	{env: "ANTHROPIC_API_KEY", key: "anthropicApiKey", group: groupTurns, secret: true,
		usage: "the model credential (x-api-key)", bind: func(c *Config) value { return stringValue(&c.Model.APIKey) }},
	{env: "ANTHROPIC_AUTH_TOKEN", key: "anthropicAuthToken", group: groupTurns, secret: true,
		usage: "the model credential (bearer), instead of the API key", bind: func(c *Config) value { return stringValue(&c.Model.AuthToken) }},
	{env: "ANTHROPIC_BASE_URL", key: "anthropicBaseUrl", group: groupTurns,
		usage: "model API base URL, when not the public one", bind: func(c *Config) value { return stringValue(&c.Model.BaseURL) }},

	{flag: "sandbox-image", env: "CLAUDETTE_SANDBOX_IMAGE", key: "sandbox.image", group: groupSandbox, arg: "REF",
		usage: "image every sandbox runs", bind: func(c *Config) value { return stringValue(&c.Sandbox.Image) }},
	{flag: "sandbox-pull", env: "CLAUDETTE_SANDBOX_PULL", key: "sandbox.pull", group: groupSandbox, arg: "POLICY",
		usage: "image pull policy: always, if-not-present or never", bind: func(c *Config) value { return stringValue(&c.Sandbox.Pull) }},
	{flag: "sandbox-allowed-images", env: "CLAUDETTE_SANDBOX_ALLOWED_IMAGES", key: "sandbox.allowedImages", group: groupSandbox, arg: "LIST",
		usage: "comma-separated image patterns the sandbox image must match (* wildcards)", bind: func(c *Config) value { return listValue(&c.Sandbox.AllowedImages) }},
	{flag: "sandbox-runtime", env: "CLAUDETTE_SANDBOX_RUNTIME", key: "sandbox.runtime", group: groupSandbox, arg: "NAME",
		usage: "OCI runtime, e.g. runsc; checked against the engine at start (default: engine default)", bind: func(c *Config) value { return stringValue(&c.Sandbox.Runtime) }},
	{flag: "sandbox-user", env: "CLAUDETTE_SANDBOX_USER", key: "sandbox.user", group: groupSandbox, arg: "UID:GID",
		usage: "non-root user the agent runs as", bind: func(c *Config) value { return stringValue(&c.Sandbox.User) }},
	{flag: "sandbox-memory", env: "CLAUDETTE_SANDBOX_MEMORY", key: "sandbox.memory", group: groupSandbox, arg: "SIZE",
		usage: "memory limit; swap is not allowed beyond it", bind: func(c *Config) value { return sizeValue(&c.Sandbox.Memory) }},
	{flag: "sandbox-cpus", env: "CLAUDETTE_SANDBOX_CPUS", key: "sandbox.cpus", group: groupSandbox, arg: "N",
		usage: "CPU limit (fractional allowed)", bind: func(c *Config) value { return floatValue(&c.Sandbox.CPUs) }},
	{flag: "sandbox-pids", env: "CLAUDETTE_SANDBOX_PIDS", key: "sandbox.pids", group: groupSandbox, arg: "N",
		usage: "process limit", bind: func(c *Config) value { return int64Value(&c.Sandbox.Pids) }},
	{flag: "sandbox-nofile", env: "CLAUDETTE_SANDBOX_NOFILE", key: "sandbox.nofile", group: groupSandbox, arg: "N",
		usage: "open files limit (ulimit -n)", bind: func(c *Config) value { return int64Value(&c.Sandbox.NoFile) }},
	{flag: "sandbox-tmp-size", env: "CLAUDETTE_SANDBOX_TMP_SIZE", key: "sandbox.tmpSize", group: groupSandbox, arg: "SIZE",
		usage: "size of the tmpfs at /tmp", bind: func(c *Config) value { return sizeValue(&c.Sandbox.TmpSize) }},
	{flag: "sandbox-output-limit", env: "CLAUDETTE_SANDBOX_OUTPUT_LIMIT", key: "sandbox.outputLimit", group: groupSandbox, arg: "SIZE",
		usage: "output of one turn before it is stopped", bind: func(c *Config) value { return sizeValue(&c.Sandbox.OutputLimit) }},
	{flag: "sandbox-line-limit", env: "CLAUDETTE_SANDBOX_LINE_LIMIT", key: "sandbox.lineLimit", group: groupSandbox, arg: "SIZE",
		usage: "longest output line; longer lines are cut and marked", bind: func(c *Config) value { return sizeValue(&c.Sandbox.LineLimit) }},
	{flag: "sandbox-stop-grace", env: "CLAUDETTE_SANDBOX_STOP_GRACE", key: "sandbox.stopGrace", group: groupSandbox, arg: "DUR",
		usage: "time between SIGTERM and SIGKILL when a turn is stopped", bind: func(c *Config) value { return durationValue(&c.Sandbox.StopGrace) }},
	{flag: "sandbox-idle", env: "CLAUDETTE_SANDBOX_IDLE", key: "sandbox.idle", group: groupSandbox, arg: "DUR",
		usage: "how long a workspace's sandbox stays warm after its turn; 0 = removed after every turn", bind: func(c *Config) value { return durationValue(&c.Sandbox.Idle) }},
	{flag: "sandbox-network", env: "CLAUDETTE_SANDBOX_NETWORK", key: "sandbox.network", group: groupSandbox, arg: "MODE",
		usage: "isolated (only the model relay) or open", bind: func(c *Config) value { return stringValue(&c.Sandbox.Network) }},
	{flag: "sandbox-egress-allow", env: "CLAUDETTE_SANDBOX_EGRESS_ALLOW", key: "sandbox.egressAllow", group: groupSandbox, arg: "LIST",
		usage: "hosts an isolated sandbox may reach through the proxy: host or *.suffix, with an optional :port (without one, 443 and 80 only)", bind: func(c *Config) value { return listValue(&c.Sandbox.EgressAllow) }},
	{flag: "sandbox-disk", env: "CLAUDETTE_SANDBOX_DISK", key: "sandbox.disk", group: groupSandbox, arg: "SIZE",
		usage: "disk of one workspace (checkout + agent state); 0 = none", bind: func(c *Config) value { return sizeValue(&c.Sandbox.Disk) }},
	{flag: "min-free-disk", env: "CLAUDETTE_MIN_FREE_DISK", key: "minFreeDisk", group: groupSandbox, arg: "SIZE",
		usage: "below this free space on the workspace or data file system no new turn starts (it waits, queued)", bind: func(c *Config) value { return sizeValue(&c.MinFreeDisk) }},

	{flag: "journal-max-age", env: "CLAUDETTE_JOURNAL_MAX_AGE", key: "journalMaxAge", group: groupDelivery, arg: "DUR",
		usage: "how long accepted message ids are remembered", bind: func(c *Config) value { return durationValue(&c.Intake.JournalMaxAge) }},
	{flag: "journal-max-entries", env: "CLAUDETTE_JOURNAL_MAX_ENTRIES", key: "journalMaxEntries", group: groupDelivery, arg: "N",
		usage: "how many accepted message ids are remembered", bind: func(c *Config) value { return intValue(&c.Intake.JournalMaxEntries) }},
	{flag: "outbox-max-size", env: "CLAUDETTE_OUTBOX_MAX_SIZE", key: "outboxMaxSize", group: groupDelivery, arg: "SIZE",
		usage: "outbox size at which producers wait for delivery", bind: func(c *Config) value { return sizeValue(&c.Outbox.MaxSize) }},
	{flag: "heartbeat-interval", env: "CLAUDETTE_HEARTBEAT_INTERVAL", key: "heartbeatInterval", group: groupDelivery, arg: "DUR",
		usage: "interval of runner.heartbeat notifications", bind: func(c *Config) value { return durationValue(&c.Outbox.HeartbeatInterval) }},

	{flag: "log-max-size", env: "CLAUDETTE_LOG_MAX_SIZE", key: "logMaxSize", group: groupLogging, arg: "SIZE",
		usage: "log file size before rotation (whole megabytes)", bind: func(c *Config) value { return sizeValue(&c.Log.MaxSize) }},
	{flag: "log-max-backups", env: "CLAUDETTE_LOG_MAX_BACKUPS", key: "logMaxBackups", group: groupLogging, arg: "N",
		usage: "rotated log files kept per log", bind: func(c *Config) value { return intValue(&c.Log.MaxBackups) }},
	{flag: "log-max-age", env: "CLAUDETTE_LOG_MAX_AGE", key: "logMaxAge", group: groupLogging, arg: "DUR",
		usage: "age after which rotated log files are removed", bind: func(c *Config) value { return durationValue(&c.Log.MaxAge) }},
}

// source names a setting for a problem line: every way to set it.
func (s setting) source() string {
	var parts []string
	if s.flag != "" {
		parts = append(parts, "--"+s.flag)
	}
	if s.env != "" {
		parts = append(parts, s.env)
	}
	if s.key != "" {
		parts = append(parts, "config key "+s.key)
	}
	return strings.Join(parts, " / ")
}

// value is a pflag.Value bound to one field of a Config.
type value struct {
	set func(string) error
	get func() string
	typ string
}

func (v value) Set(s string) error { return v.set(s) }
func (v value) String() string     { return v.get() }
func (v value) Type() string       { return v.typ }

func stringValue(p *string) value {
	return value{typ: "string", get: func() string { return *p }, set: func(s string) error { *p = s; return nil }}
}

func boolValue(p *bool) value {
	return value{typ: "bool", get: func() string { return strconv.FormatBool(*p) }, set: func(s string) error {
		b, err := parseBool(s)
		if err == nil {
			*p = b
		}
		return err
	}}
}

func intValue(p *int) value {
	return value{typ: "int", get: func() string { return strconv.Itoa(*p) }, set: func(s string) error {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return errInvalid("whole number", s)
		}
		*p = n
		return nil
	}}
}

func int64Value(p *int64) value {
	return value{typ: "int", get: func() string { return strconv.FormatInt(*p, 10) }, set: func(s string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return errInvalid("whole number", s)
		}
		*p = n
		return nil
	}}
}

func floatValue(p *float64) value {
	return value{typ: "float", get: func() string { return strconv.FormatFloat(*p, 'f', -1, 64) }, set: func(s string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return errInvalid("number", s)
		}
		*p = f
		return nil
	}}
}

func sizeValue(p *ByteSize) value {
	return value{typ: "size", get: func() string { return p.String() }, set: func(s string) error {
		b, err := ParseByteSize(s)
		if err == nil {
			*p = b
		}
		return err
	}}
}

func durationValue(p *time.Duration) value {
	return value{typ: "duration", get: func() string { return FormatDuration(*p) }, set: func(s string) error {
		d, err := ParseDuration(s)
		if err == nil {
			*p = d
		}
		return err
	}}
}

func listValue(p *[]string) value {
	return value{typ: "list", get: func() string { return strings.Join(*p, ",") }, set: func(s string) error {
		*p = splitList(s)
		return nil
	}}
}
