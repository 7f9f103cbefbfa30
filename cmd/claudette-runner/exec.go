package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/logging"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/google/uuid"
	"github.com/spf13/pflag"
	"go.uber.org/zap/zapcore"
)

type execFlags struct {
	repo, ref, workspaceID, conversationID string
	branch, push                           string
	json                                   bool
}

func execCommand() *command {
	f := &execFlags{}
	return &command{
		name:     "exec",
		args:     "PROMPT",
		summary:  "run one turn locally in the same sandbox, with no orchestrator",
		settings: true,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&f.repo, "repo", "", "repository to work on: an https:// URL or a local path (cloned, never modified)")
			fs.StringVar(&f.ref, "ref", "", "branch, tag or commit (default: the default branch)")
			fs.StringVar(&f.workspaceID, "workspace-id", "", "workspace id (default: derived from --repo)")
			fs.StringVar(&f.conversationID, "conversation-id", "", "conversation id; the same id again resumes its session (default: a new one)")
			fs.StringVar(&f.branch, "branch", "", "the conversation's branch, the one the agent may push (default: claudette/{conversation id})")
			fs.StringVar(&f.push, "push", workspace.PushNever, "never, or always: after a completed turn the runner commits what is left and pushes the branch (to --repo's own branch for a local path)")
			fs.BoolVar(&f.json, "json", false, "print the agent's raw stream-json lines instead of a transcript")
		},
		run: func(inv *invocation) int { return runExec(inv, f) },
	}
}

// runExec runs one turn through the same conversation manager and sandbox as
// the daemon, printing the transcript instead of reporting to an orchestrator.
// State lives under {dataDir}/exec so it never contends with a running daemon.
func runExec(inv *invocation, f *execFlags) int {
	prompt := strings.Join(inv.args, " ")
	if strings.TrimSpace(prompt) == "" || prompt == "-" {
		data, err := readStdinPrompt()
		if err != nil || strings.TrimSpace(data) == "" {
			fmt.Fprintf(inv.stderr, "claudette-runner exec: a PROMPT is required (as arguments, or on stdin)\n")
			return exitUsage
		}
		prompt = data
	}
	cfg, problems := inv.loadConfig()
	problems = append(problems, cfg.ValidateLocal()...)
	if len(problems) > 0 {
		printProblems(inv.stderr, problems)
		return exitFailed
	}
	turn, err := f.turn(prompt, cfg.Git.PushBranches)
	if err != nil {
		fmt.Fprintf(inv.stderr, "claudette-runner exec: %v\n", err)
		return exitUsage
	}
	cfg.DataDir = filepath.Join(cfg.DataDir, "exec")
	cfg.RunnerID = cfg.RunnerID + "-exec"
	lg, err := logging.New(cfg, logging.ConsoleLevel(zapcore.WarnLevel))
	if err != nil {
		fmt.Fprintf(inv.stderr, "claudette-runner exec: %v\n", err)
		return exitFailed
	}
	defer lg.Close()
	log := lg.Logger

	ctx := context.Background()
	tr := newTranscript(inv.stdout, inv.stderr, f.json, turn, f.repo)
	mgr, stop, err := startLocal(ctx, cfg, log, tr)
	defer stop()
	if err != nil {
		fmt.Fprintf(inv.stderr, "claudette-runner exec: %v\n", err)
		return exitFailed
	}

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	if !settleLeftovers(inv.stderr, mgr, tr, cfg.Sandbox.StopGrace, cfg.DataDir) {
		return exitFailed
	}
	if !f.json {
		fmt.Fprintf(inv.stderr, "workspace %s · conversation %s\n", turn.WorkspaceID, turn.ConversationID)
	}
	if err := mgr.Submit(ctx, turn); err != nil {
		fmt.Fprintf(inv.stderr, "claudette-runner exec: %v\n", err)
		return exitFailed
	}
	select {
	case <-tr.done:
	case <-signals:
		log.Warn("interrupted, stopping the turn")
		mgr.Cancel(turn.WorkspaceID, turn.ConversationID)
		<-tr.done
	}
	ok, status := tr.succeeded()
	if !ok {
		fmt.Fprintf(inv.stderr, "claudette-runner exec: turn %s\n", status)
		return exitFailed
	}
	return exitOK
}

var nonID = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// turn builds the Turn of an exec: a URL is a repository, anything else a
// local path. Each exec's turn has its own message and request id, so that it
// takes its own answer only.
func (f *execFlags) turn(prompt string, pushBranches []string) (conversation.Turn, error) {
	id := "exec-" + uuid.NewString()
	t := conversation.Turn{MessageID: id, RequestID: []byte(strconv.Quote(id)),
		WorkspaceID: f.workspaceID, ConversationID: f.conversationID, Prompt: prompt,
		Repository: workspace.Repository{Ref: f.ref, Branch: f.branch, Push: f.push}}
	isURL := strings.Contains(f.repo, "://")
	switch {
	case isURL:
		t.Repository.URL = f.repo
	case f.repo != "":
		abs, err := filepath.Abs(f.repo)
		if err != nil {
			return t, err
		}
		t.LocalPath = abs
	default:
		return t, fmt.Errorf("--repo is required: an https:// URL or a local path")
	}
	if t.WorkspaceID == "" {
		sum := sha256.Sum256([]byte(f.repo + "\x00" + t.LocalPath))
		name := t.LocalPath
		if isURL {
			name = strings.TrimSuffix(f.repo, ".git")
		}
		base := strings.Trim(nonID.ReplaceAllString(filepath.Base(name), "-"), ".-")
		if len(base) > 40 {
			base = base[:40]
		}
		t.WorkspaceID = strings.TrimLeft("exec-"+base+"-"+hex.EncodeToString(sum[:4]), ".")
	}
	if t.ConversationID == "" {
		t.ConversationID = uuid.NewString()
	}
	// The field is the flag: "--workspace-id: must be 1-64 of ...".
	if err := workspace.ValidateID("--workspace-id", t.WorkspaceID); err != nil {
		return t, err
	}
	if err := workspace.ValidateID("--conversation-id", t.ConversationID); err != nil {
		return t, err
	}
	if err := checkPush(t.Repository, t.ConversationID, pushBranches); err != nil {
		return t, err
	}
	if len(prompt) > conversation.MaxPromptBytes {
		return t, fmt.Errorf("the prompt is over 1 MiB")
	}
	return t, nil
}

func readStdinPrompt() (string, error) {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice != 0 {
		return "", fmt.Errorf("no prompt on stdin")
	}
	data, err := io.ReadAll(io.LimitReader(os.Stdin, conversation.MaxPromptBytes+1))
	return string(data), err
}
