package conversation

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/workspace"
)

func TestOptionsValidate(t *testing.T) {
	long := strings.Repeat("x", maxSystemPromptSize+1)
	tests := map[string]struct {
		opts  Options
		field string // "" = valid
	}{
		"empty":                 {Options{}, ""},
		"all good":              {Options{Model: "claude-sonnet-4-5@20250929", PermissionMode: "plan", AllowedTools: []string{"Bash(git log:*)", "Edit", "mcp__github__create_issue"}, DisallowedTools: []string{"WebFetch"}, MaxTurns: 20, AppendSystemPrompt: "Be brief.\nUse tabs.", TimeoutSeconds: 900}, ""},
		"model alias":           {Options{Model: "sonnet[1m]"}, ""},
		"provider model id":     {Options{Model: "us.anthropic.claude-x:0"}, ""},
		"model flag":            {Options{Model: "--dangerously-skip-permissions"}, "options.model"},
		"model short flag":      {Options{Model: "-x"}, "options.model"},
		"model with space":      {Options{Model: "sonnet --verbose"}, "options.model"},
		"model with equals":     {Options{Model: "a=b"}, "options.model"},
		"model too long":        {Options{Model: strings.Repeat("m", 129)}, "options.model"},
		"permission unknown":    {Options{PermissionMode: "yolo"}, "options.permissionMode"},
		"permission flag":       {Options{PermissionMode: "--dangerously-skip-permissions"}, "options.permissionMode"},
		"tool shell injection":  {Options{AllowedTools: []string{"Edit", "Bash; rm -rf /"}}, "options.allowedTools[1]"},
		"tool flag":             {Options{AllowedTools: []string{"--dangerously-skip-permissions"}}, "options.allowedTools[0]"},
		"tool comma list":       {Options{AllowedTools: []string{"Bash,Edit"}}, "options.allowedTools[0]"},
		"tool empty":            {Options{DisallowedTools: []string{""}}, "options.disallowedTools[0]"},
		"tool rule newline":     {Options{AllowedTools: []string{"Bash(ls\n)"}}, "options.allowedTools[0]"},
		"tool nested parens":    {Options{AllowedTools: []string{"Bash((x))"}}, "options.allowedTools[0]"},
		"disallowed flag":       {Options{DisallowedTools: []string{"-x"}}, "options.disallowedTools[0]"},
		"too many tools":        {Options{AllowedTools: slices.Repeat([]string{"Edit"}, maxTools+1)}, "options.allowedTools"},
		"max turns negative":    {Options{MaxTurns: -1}, "options.maxTurns"},
		"max turns huge":        {Options{MaxTurns: maxTurnsLimit + 1}, "options.maxTurns"},
		"system prompt flag":    {Options{AppendSystemPrompt: "--dangerously-skip-permissions"}, "options.appendSystemPrompt"},
		"system prompt NUL":     {Options{AppendSystemPrompt: "a\x00b"}, "options.appendSystemPrompt"},
		"system prompt too big": {Options{AppendSystemPrompt: long}, "options.appendSystemPrompt"},
		"timeout negative":      {Options{TimeoutSeconds: -1}, "options.timeoutSeconds"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != tt.field || fe.Message == "" {
				t.Fatalf("Validate() = %#v, want a FieldError for %s", err, tt.field)
			}
		})
	}
}

func TestClaudeArgs(t *testing.T) {
	fixed := []string{"claude", "-p", "--output-format", "stream-json", "--verbose"}
	tests := map[string]struct {
		sess session
		opts Options
		want []string
	}{
		"first turn, defaults": {session{ID: "s-1"}, Options{},
			[]string{"--session-id=s-1", "--permission-mode=bypassPermissions"}},
		"later turn resumes": {session{ID: "s-1", Resume: true}, Options{PermissionMode: "plan"},
			[]string{"--resume=s-1", "--permission-mode=plan"}},
		"every option": {session{ID: "s-2"}, Options{Model: "opus", PermissionMode: "acceptEdits", AllowedTools: []string{"Bash(git log:*)", "Edit"},
			DisallowedTools: []string{"WebFetch"}, MaxTurns: 7, AppendSystemPrompt: "Say -- nothing", TimeoutSeconds: 30},
			[]string{"--session-id=s-2", "--permission-mode=acceptEdits", "--model=opus", "--allowedTools=Bash(git log:*),Edit",
				"--disallowedTools=WebFetch", "--max-turns=7", "--append-system-prompt=Say -- nothing"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got, want := claudeArgs(tt.sess, tt.opts), append(slices.Clone(fixed), tt.want...); !slices.Equal(got, want) {
				t.Errorf("claudeArgs() =\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// argFlags are the only flags an option may produce, each in --flag=value form.
var argFlags = []string{"--session-id=", "--resume=", "--permission-mode=", "--model=", "--allowedTools=",
	"--disallowedTools=", "--max-turns=", "--append-system-prompt="}

// checkNoInjection asserts the shape of a command line built from options
// that passed Validate: the fixed prefix, then only --flag=value elements
// of known flags, each at most once.
func checkNoInjection(t *testing.T, args []string) {
	t.Helper()
	fixed := []string{"claude", "-p", "--output-format", "stream-json", "--verbose"}
	if len(args) < len(fixed) || !slices.Equal(args[:len(fixed)], fixed) {
		t.Fatalf("command line %q lacks the fixed prefix", args)
	}
	seen := map[string]bool{}
	for _, a := range args[len(fixed):] {
		i := slices.IndexFunc(argFlags, func(f string) bool { return strings.HasPrefix(a, f) })
		if i < 0 {
			t.Fatalf("command line %q: element %q is not a known --flag=value", args, a)
		}
		if seen[argFlags[i]] {
			t.Fatalf("command line %q repeats %s", args, argFlags[i])
		}
		seen[argFlags[i]] = true
	}
}

// FuzzOptionsCannotInjectAFlag: whatever a message puts in its options,
// either Validate refuses it or the command line has the expected shape.
func FuzzOptionsCannotInjectAFlag(f *testing.F) {
	f.Add("sonnet", "bypassPermissions", "Bash", "Edit", 3, "be brief")
	f.Add("--dangerously-skip-permissions", "-x", "Bash; rm -rf /", "--model=opus", -1, "--verbose")
	f.Add("-p", "default --dangerously-skip-permissions", "Bash(x) --help", "\n--resume=x", 0, "x\n--model evil")
	f.Add("opus\x00", "plan", "Bash(echo a,b)", "mcp__a__b", 1000, "-")
	f.Fuzz(func(t *testing.T, model, mode, tool1, tool2 string, maxTurns int, system string) {
		o := Options{Model: model, PermissionMode: mode, AllowedTools: []string{tool1}, DisallowedTools: []string{tool2},
			MaxTurns: maxTurns, AppendSystemPrompt: system}
		if o.Validate() != nil {
			return
		}
		for _, s := range []session{{ID: "0b9f6f6e-4b7e-4c3a-9d6a-1f1e2d3c4b5a"}, {ID: "0b9f6f6e-4b7e-4c3a-9d6a-1f1e2d3c4b5a", Resume: true}} {
			checkNoInjection(t, claudeArgs(s, o))
		}
	})
}

// The prompt reaches the sandbox on stdin only: never in the command line,
// the environment or a label, even when it looks like flags.
func TestTurnSpecKeepsThePromptOnStdin(t *testing.T) {
	const marker = "PROMPT-MARKER-7f3a"
	prompt := "--dangerously-skip-permissions " + marker + "\n-p --model evil"
	turn := Turn{MessageID: "m-1", WorkspaceID: "ws-1", ConversationID: "c-1", Prompt: prompt,
		Options: Options{Model: "sonnet", AllowedTools: []string{"Edit"}}}
	co := workspace.Checkout{Dir: "/srv/ws/ws-1", AgentStateDir: "/srv/data/workspaces/ws-1/claude"}
	access := turnAccess{env: []string{"ANTHROPIC_BASE_URL=http://127.0.0.1:4141", "ANTHROPIC_API_KEY=turn-token"}}
	spec := turnSpec(turn, session{ID: "s-1"}, co, access, 5*time.Minute, "/srv/data/prompts/p-1")

	if len(spec.Stdin) != 0 || spec.StdinFile != "/srv/data/prompts/p-1" || !spec.Keep {
		t.Errorf("stdin = %q from %q (keep %v), want the prompt file and the container kept", spec.Stdin, spec.StdinFile, spec.Keep)
	}
	checkNoInjection(t, spec.Cmd)
	for _, where := range [][]string{spec.Cmd, spec.Env, labelValues(spec.Labels)} {
		for _, v := range where {
			if strings.Contains(v, marker) {
				t.Errorf("the prompt leaked into %q", v)
			}
		}
	}
	if spec.Checkout != co.Dir || len(spec.Mounts) != 1 || spec.Mounts[0].Source != co.AgentStateDir || spec.Mounts[0].Target != AgentStateMount ||
		spec.Mounts[0].ReadOnly || spec.Timeout != 5*time.Minute || spec.WorkspaceID != "ws-1" || spec.MessageID != "m-1" ||
		spec.Labels[labelConversationID] != "c-1" {
		t.Errorf("spec = %+v", spec)
	}
	for _, want := range []string{"CLAUDE_CONFIG_DIR=" + AgentStateMount, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1", "DISABLE_AUTOUPDATER=1", "ANTHROPIC_BASE_URL=http://127.0.0.1:4141", "ANTHROPIC_API_KEY=turn-token"} {
		if !slices.Contains(spec.Env, want) {
			t.Errorf("env %q lacks %q", spec.Env, want)
		}
	}
	for _, e := range spec.Env {
		if strings.HasPrefix(e, "ANTHROPIC_AUTH_TOKEN=") || strings.Contains(e, "RUNNER_TOKEN") {
			t.Errorf("env has %q", e)
		}
	}
}

func labelValues(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

func TestTurnTimeoutIsLoweredPerMessage(t *testing.T) {
	m := &Manager{cfg: testConfig(10 * time.Minute)}
	for secs, want := range map[int]time.Duration{0: 10 * time.Minute, 30: 30 * time.Second, 3600: 10 * time.Minute} {
		if got := m.turnTimeout(Options{TimeoutSeconds: secs}); got != want {
			t.Errorf("timeoutSeconds %d: %v, want %v", secs, got, want)
		}
	}
}

func TestTranscriptExists(t *testing.T) {
	dir := t.TempDir()
	const id = "0b9f6f6e-4b7e-4c3a-9d6a-1f1e2d3c4b5a"
	if transcriptExists(dir, id) {
		t.Fatal("no transcript yet")
	}
	project := filepath.Join(dir, "projects", "-workspace")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, id+".jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !transcriptExists(dir, id) {
		t.Error("transcript not found")
	}
	for _, bad := range []string{"", "*", "../" + id, "-workspace/" + id, id + "/.."} {
		if transcriptExists(dir, bad) {
			t.Errorf("id %q matched", bad)
		}
	}
	if transcriptExists("", id) {
		t.Error("no agent state dir matched")
	}
}
