package conversation

import (
	"strconv"
	"strings"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/sandbox"
)

// Paths inside the sandbox.
const (
	// AgentStateMount is where the workspace's persistent agent-state dir is
	// mounted; CLAUDE_CONFIG_DIR points at it so --resume works across turns.
	AgentStateMount = "/claude-state"
	agentHome       = "/tmp/home"
)

// session says how a turn addresses its Claude session.
type session struct {
	ID     string
	Resume bool // --resume ID (a later turn) instead of --session-id ID (the first)
}

// labelConversationID names the conversation of a sandbox, beside the contract labels.
const labelConversationID = "dev.claudette.conversation-id"

// turnSpec is the sandbox run of a turn: the CLI's command line and
// environment, the checkout at /workspace, the agent state, the turn's access
// (model relay, network, protected git metadata), and the prompt on stdin
// from promptFile (the turn's durable prompt file, so a sandbox adopted after
// a crash has read it whole), never in the command line, the environment or
// a label. The ended container is kept until the turn's answer is recorded.
func turnSpec(turn Turn, s session, co workspace.Checkout, access turnAccess, timeout time.Duration, promptFile string) sandbox.Spec {
	return sandbox.Spec{
		WorkspaceID: turn.WorkspaceID,
		MessageID:   turn.MessageID,
		Cmd:         access.command(claudeArgs(s, turn.Options)),
		Env:         append(agentEnv(), access.env...),
		Checkout:    co.Dir,
		Mounts:      append([]sandbox.Mount{{Source: co.AgentStateDir, Target: AgentStateMount}}, access.mounts...),
		NetworkMode: access.network,
		StdinFile:   promptFile,
		Keep:        true,
		Keeper:      access.keeper,
		Timeout:     timeout,
		Labels:      map[string]string{labelConversationID: turn.ConversationID},
	}
}

// claudeArgs builds the CLI's command line. Every value uses the --flag=value
// form and was validated, so nothing from a message can become a flag. The
// prompt is not here: it goes on stdin.
func claudeArgs(s session, o Options) []string {
	args := []string{"claude", "-p", "--output-format", "stream-json", "--verbose"}
	if s.Resume {
		args = append(args, "--resume="+s.ID)
	} else {
		args = append(args, "--session-id="+s.ID)
	}
	mode := o.PermissionMode
	if mode == "" {
		mode = DefaultPermissionMode
	}
	args = append(args, "--permission-mode="+mode)
	if o.Model != "" {
		args = append(args, "--model="+o.Model)
	}
	if len(o.AllowedTools) > 0 {
		args = append(args, "--allowedTools="+strings.Join(o.AllowedTools, ","))
	}
	if len(o.DisallowedTools) > 0 {
		args = append(args, "--disallowedTools="+strings.Join(o.DisallowedTools, ","))
	}
	if o.MaxTurns > 0 {
		args = append(args, "--max-turns="+strconv.Itoa(o.MaxTurns))
	}
	if o.AppendSystemPrompt != "" {
		args = append(args, "--append-system-prompt="+o.AppendSystemPrompt)
	}
	return args
}

// agentEnv is the sandbox environment of the CLI: its state dir and the
// switches that stop non-essential traffic. The model endpoint and the turn's
// token come from the relay (turnAccess); never a real credential or the
// runner's own token.
func agentEnv() []string {
	return []string{
		"CLAUDE_CONFIG_DIR=" + AgentStateMount,
		"HOME=" + agentHome,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		"DISABLE_AUTOUPDATER=1",
	}
}
