package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
)

// Labels every sandbox container carries (CONTRACT.md section 4).
const (
	LabelManaged     = "dev.claudette.managed"
	LabelRunnerID    = "dev.claudette.runner-id"
	LabelWorkspaceID = "dev.claudette.workspace-id"
	LabelMessageID   = "dev.claudette.message-id"
)

// Labels of this package, beside the contract ones: what a later Attach needs
// to enforce the same turn.
const (
	labelDeadline = "dev.claudette.deadline" // RFC 3339 wall-clock end of the turn
	labelTimeout  = "dev.claudette.timeout"  // the turn timeout, for the reason text
	labelKeep     = "dev.claudette.keep"     // "true": the ended container stays until Remove
)

// StdinPath is where a Spec's StdinFile is mounted read-only; the command
// reads it as its stdin. It lies in the sandbox's /tmp (a tmpfs, mounted
// first), since the root file system is read-only and has no mount point.
const StdinPath = "/tmp/.claudette-stdin"

// WorkspacePath is where the checkout is mounted and the working directory.
const WorkspacePath = "/workspace"

// MaxStdin is the largest prompt Run accepts on stdin.
const MaxStdin = 8 << 20

// Mount is an extra bind mount from the host.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Spec is one run of a command in a workspace's sandbox.
type Spec struct {
	WorkspaceID, MessageID string
	Image                  string   // "" = cfg.Sandbox.Image
	Cmd                    []string // the whole command line; the image's entrypoint is replaced
	Env                    []string // KEY=value; nothing of the runner's environment is passed otherwise
	Checkout               string   // host dir, bind-mounted read-write at /workspace (the working dir)
	Mounts                 []Mount  // extra binds, e.g. the agent-state dir; nothing else from the host
	Stdin                  []byte   // the prompt; reaches the process on stdin, never in Cmd, Env or inspect
	// StdinFile is a host file the process reads as its stdin instead of
	// Stdin: mounted read-only at StdinPath and redirected by /bin/sh, so the
	// whole prompt reaches a sandbox that outlived a crash of the runner
	// (a stream written after the start would not). The image needs /bin/sh.
	StdinFile string
	// Keep leaves the ended container (exited, with its log) in place until
	// Remove: the caller records how the run ended before it is gone, so a
	// crash in between can still read it back with Attach.
	Keep bool
	// Keeper, when set, is the command line (inside the sandbox) of the
	// keeper (KeeperMain): the workspace's sandbox then outlives the turn,
	// kept warm for sandbox.idle, and Cmd runs as one turn in it (warm.go).
	// Empty: a container of its own runs Cmd.
	Keeper      []string
	Timeout     time.Duration
	Labels      map[string]string // extra labels; the contract labels win
	NetworkMode string            // "" = "none"
}

// ContainerName is the name of a workspace's sandbox container for a runner:
// readable, and unique per (runner, workspace) even where the ids contain the
// separator.
func ContainerName(runnerID, workspaceID string) string {
	sum := sha256.Sum256([]byte(runnerID + "\x00" + workspaceID))
	return fmt.Sprintf("claudette-%s-%s-%s", runnerID, workspaceID, hex.EncodeToString(sum[:4]))
}

// reservedTargets may not be mount targets: the engine's own and /tmp's.
var reservedTargets = []string{"/", "/proc", "/sys", "/dev", "/tmp", "/etc"}

// validate checks a spec before anything is created. Errors are
// InvalidArgument-class.
func (s *Spec) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("sandbox spec: "+format+": %w", append(args, errdefs.ErrInvalidArgument)...)
	}
	if !config.IDPattern.MatchString(s.WorkspaceID) {
		return bad("workspace id %q must be 1-64 of A-Z a-z 0-9 . _ - and not start with '.'", s.WorkspaceID)
	}
	if s.MessageID == "" || len(s.MessageID) > 256 || strings.ContainsAny(s.MessageID, "\x00\n") {
		return bad("message id %q is empty, too long or has control characters", s.MessageID)
	}
	if len(s.Cmd) == 0 || s.Cmd[0] == "" {
		return bad("command is empty")
	}
	if len(s.Stdin) > MaxStdin {
		return bad("stdin is %d bytes, more than %d", len(s.Stdin), MaxStdin)
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return bad("environment entry %q is not KEY=value", e)
		}
	}
	if s.StdinFile != "" {
		if len(s.Stdin) > 0 {
			return bad("stdin and a stdin file are both set")
		}
		if fi, err := os.Lstat(s.StdinFile); err != nil || !filepath.IsAbs(s.StdinFile) || !fi.Mode().IsRegular() || fi.Size() > MaxStdin {
			return bad("stdin file %q must be an absolute path to a regular file of at most %d bytes", s.StdinFile, MaxStdin)
		}
	}
	if err := checkSource(s.Checkout); err != nil {
		return bad("checkout: %v", err)
	}
	targets := map[string]bool{WorkspacePath: true}
	for _, m := range s.Mounts {
		if err := checkSource(m.Source); err != nil {
			return bad("mount %s: %v", m.Target, err)
		}
		t := filepath.Clean(m.Target)
		if !filepath.IsAbs(m.Target) || t != m.Target {
			return bad("mount target %q must be a clean absolute path", m.Target)
		}
		for _, r := range reservedTargets {
			if t == r || (r != "/" && strings.HasPrefix(t, r+"/")) {
				return bad("mount target %s is reserved", t)
			}
		}
		if targets[t] {
			return bad("mount target %s is used twice", t)
		}
		targets[t] = true
	}
	return nil
}

// checkSource accepts an existing absolute host directory or regular file;
// never a socket (the Docker socket in particular) or a device.
func checkSource(p string) error {
	if p == "" || !filepath.IsAbs(p) {
		return fmt.Errorf("host path %q must be absolute", p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("host path %s: %w", p, err)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return fmt.Errorf("host path %s is a %v, only directories and regular files can be mounted", p, fi.Mode().Type())
	}
	if filepath.Clean(p) == "/" {
		return fmt.Errorf("the host root cannot be mounted")
	}
	return nil
}

// labels returns the container's labels: the spec's extras, then the
// contract ones and the turn's deadline, which cannot be overridden.
func labels(runnerID string, s *Spec, timeout time.Duration, deadline time.Time) map[string]string {
	out := make(map[string]string, len(s.Labels)+7)
	for k, v := range s.Labels {
		out[k] = v
	}
	out[LabelManaged] = "true"
	out[LabelRunnerID] = runnerID
	out[LabelWorkspaceID] = s.WorkspaceID
	out[LabelMessageID] = s.MessageID
	out[labelTimeout] = timeout.String()
	out[labelDeadline] = deadline.UTC().Format(time.RFC3339Nano)
	delete(out, labelKeep)
	if s.Keep {
		out[labelKeep] = "true"
	}
	return out
}
