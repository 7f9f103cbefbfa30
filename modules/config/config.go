package config

import (
	"os"
	"time"
)

// Config is every setting of the runner, filled once by Load and then read-only.
type Config struct {
	ConfigFile string
	Debug      bool

	DataDir       string
	WorkspaceDir  string
	RunnerID      string
	MaxConcurrent int
	Listen        string

	RunnerToken     string
	ElectricURL     string
	OrchestratorURL string

	TurnTimeout     time.Duration
	ShutdownTimeout time.Duration

	Log     LogConfig
	Sandbox SandboxConfig
	Intake  IntakeConfig
	Outbox  OutboxConfig
	Git     GitConfig
	Model   ModelConfig
	Meter   MeterConfig

	// MinFreeDisk is the free space the workspace and data file systems must
	// keep: below it no new turn starts (CONTRACT section 7).
	MinFreeDisk ByteSize
}

// LogConfig sizes the rotated log files under {dataDir}/logs.
type LogConfig struct {
	MaxSize    ByteSize
	MaxBackups int
	MaxAge     time.Duration
}

// SandboxConfig is what every sandbox container gets: image, limits, hardening choices.
type SandboxConfig struct {
	Image         string
	Pull          string // always | if-not-present | never
	AllowedImages []string
	Runtime       string
	User          string // uid:gid, never root
	Memory        ByteSize
	CPUs          float64
	Pids          int64
	NoFile        int64
	TmpSize       ByteSize
	OutputLimit   ByteSize
	LineLimit     ByteSize
	StopGrace     time.Duration
	Network       string // isolated | open
	EgressAllow   []string
	// Disk is the limit of one workspace's checkout and agent state; 0 = none.
	Disk ByteSize
	// Idle is how long a workspace's sandbox stays warm after its turn for
	// the next one; 0 = it is removed after every turn.
	Idle time.Duration
}

// IntakeConfig bounds the journal of accepted Electric messages.
type IntakeConfig struct {
	JournalMaxAge     time.Duration
	JournalMaxEntries int
}

// OutboxConfig bounds the durable outbox towards the orchestrator.
type OutboxConfig struct {
	MaxSize           ByteSize
	HeartbeatInterval time.Duration
}

// GitConfig holds the runner's own git credentials and URL policy.
type GitConfig struct {
	Tokens    string // host=token,host2=token2; used by the runner only
	AllowHTTP bool
	// PushBranches are the branch patterns (* wildcards) the agent may push
	// through the git relay; empty = no pushing (CONTRACT section 6).
	PushBranches []string
	// Author is "Name <email>": the agent's and the runner's commits.
	Author string
	// PushMaxSize is the largest push the git relay forwards.
	PushMaxSize ByteSize
}

// MeterConfig is what the model relay counts and enforces (CONTRACT section 7).
type MeterConfig struct {
	MaxTurnTokens         int64   // 0 = no budget
	MaxConversationTokens int64   // 0 = no budget
	ModelPrices           string  // path of the prices file; "" = no cost
	MaxTurnUSD            float64 // 0 = no budget; needs ModelPrices
	MaxConversationUSD    float64 // 0 = no budget; needs ModelPrices
}

// ModelConfig is the model API credential and endpoint. It never enters a sandbox as is.
type ModelConfig struct {
	APIKey    string
	AuthToken string
	BaseURL   string
}

// Pull policies for the sandbox image.
const (
	PullAlways       = "always"
	PullIfNotPresent = "if-not-present"
	PullNever        = "never"
)

// Sandbox network modes.
const (
	NetworkIsolated = "isolated"
	NetworkOpen     = "open"
)

// Git defaults (CONTRACT section 7).
const (
	DefaultGitPushBranches = "claudette/*"
	DefaultGitAuthor       = "Claude <noreply@anthropic.com>"
)

// DefaultSandboxImage is the production sandbox image built by `make sandbox-image`.
const DefaultSandboxImage = "claudette/sandbox:latest"

// Defaults returns the configuration before any file, environment or flag.
func Defaults() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "claudette-runner"
	}
	return &Config{
		DataDir:         "./data",
		WorkspaceDir:    "/workspace",
		RunnerID:        host,
		MaxConcurrent:   4,
		Listen:          "127.0.0.1:9464",
		TurnTimeout:     30 * time.Minute,
		ShutdownTimeout: 60 * time.Second,
		Log: LogConfig{
			MaxSize:    100 << 20,
			MaxBackups: 5,
			MaxAge:     30 * 24 * time.Hour,
		},
		Sandbox: SandboxConfig{
			Image:       DefaultSandboxImage,
			Pull:        PullIfNotPresent,
			User:        "1000:1000",
			Memory:      2 << 30,
			CPUs:        2,
			Pids:        512,
			NoFile:      8192,
			TmpSize:     512 << 20,
			OutputLimit: 256 << 20,
			LineLimit:   16 << 20,
			StopGrace:   10 * time.Second,
			Network:     NetworkIsolated,
			Disk:        10 << 30,
			Idle:        10 * time.Minute,
		},
		MinFreeDisk: 2 << 30,
		Git: GitConfig{
			PushBranches: []string{DefaultGitPushBranches},
			Author:       DefaultGitAuthor,
			PushMaxSize:  2 << 30,
		},
		Intake: IntakeConfig{
			JournalMaxAge:     7 * 24 * time.Hour,
			JournalMaxEntries: 100000,
		},
		Outbox: OutboxConfig{
			MaxSize:           1 << 30,
			HeartbeatInterval: 30 * time.Second,
		},
	}
}
