package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// options are the parsed command-line flags the fake acts on. Every other
// flag of the real CLI is accepted and ignored.
type options struct {
	print           bool
	verbose         bool
	outputFormat    string
	inputFormat     string
	sessionID       string
	resume          string
	resumeSet       bool
	continueLast    bool
	forkSession     bool
	noPersistence   bool
	model           string
	permissionMode  string
	skipPermissions bool
	allowSkip       bool
	maxTurns        int
	replayUser      bool
	prompt          string
	hasPrompt       bool
	help            bool
	version         bool
}

type flagKind int

const (
	kindBool     flagKind = iota
	kindValue             // --flag <value>
	kindOptional          // --flag [value]
	kindVariadic          // --flag <values...>
)

type flagSpec struct {
	kind flagKind
	arg  string // placeholder for error messages, e.g. "<format>"
	set  func(o *options, vals []string) error
}

var (
	outputFormats   = []string{"text", "json", "stream-json"}
	inputFormats    = []string{"text", "stream-json"}
	permissionModes = []string{"acceptEdits", "auto", "bypassPermissions", "manual", "dontAsk", "plan", "default"}
	uuidPattern     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

func ignore(*options, []string) error { return nil }

// flagTable maps every long and short flag name of claude 2.1.330 (plus the
// hidden ones the SDKs pass) to how it is parsed.
func flagTable() map[string]flagSpec {
	b := func(f func(o *options)) flagSpec {
		return flagSpec{kind: kindBool, set: func(o *options, _ []string) error { f(o); return nil }}
	}
	v := func(arg string, f func(o *options, s string) error) flagSpec {
		return flagSpec{kind: kindValue, arg: arg, set: func(o *options, vals []string) error { return f(o, vals[0]) }}
	}
	ignoredValue := flagSpec{kind: kindValue, arg: "<value>", set: ignore}
	ignoredOptional := flagSpec{kind: kindOptional, arg: "[value]", set: ignore}
	ignoredVariadic := flagSpec{kind: kindVariadic, arg: "<values...>", set: ignore}
	ignoredBool := flagSpec{kind: kindBool, set: ignore}
	choice := func(flag, arg string, allowed []string, dst func(o *options) *string) flagSpec {
		return v(arg, func(o *options, s string) error {
			if !slices.Contains(allowed, s) {
				return fmt.Errorf("error: option '--%s %s' argument '%s' is invalid. Allowed choices are %s.", flag, arg, s, strings.Join(allowed, ", "))
			}
			*dst(o) = s
			return nil
		})
	}
	t := map[string]flagSpec{
		"print":   b(func(o *options) { o.print = true }),
		"verbose": b(func(o *options) { o.verbose = true }),
		"help":    b(func(o *options) { o.help = true }),
		"version": b(func(o *options) { o.version = true }),
		"output-format": choice("output-format", "<format>", outputFormats,
			func(o *options) *string { return &o.outputFormat }),
		"input-format": choice("input-format", "<format>", inputFormats,
			func(o *options) *string { return &o.inputFormat }),
		"permission-mode": choice("permission-mode", "<mode>", permissionModes,
			func(o *options) *string { return &o.permissionMode }),
		"session-id": v("<uuid>", func(o *options, s string) error { o.sessionID = s; return nil }),
		"resume": {kind: kindOptional, arg: "[value]", set: func(o *options, vals []string) error {
			o.resumeSet = true
			if len(vals) > 0 {
				o.resume = vals[0]
			}
			return nil
		}},
		"continue":                           b(func(o *options) { o.continueLast = true }),
		"fork-session":                       b(func(o *options) { o.forkSession = true }),
		"no-session-persistence":             b(func(o *options) { o.noPersistence = true }),
		"dangerously-skip-permissions":       b(func(o *options) { o.skipPermissions = true }),
		"allow-dangerously-skip-permissions": b(func(o *options) { o.allowSkip = true }),
		"replay-user-messages":               b(func(o *options) { o.replayUser = true }),
		"model":                              v("<model>", func(o *options, s string) error { o.model = s; return nil }),
		"append-system-prompt":               {kind: kindValue, arg: "<prompt>", set: ignore},
		"max-turns": v("<turns>", func(o *options, s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return fmt.Errorf("Error: --max-turns must be a positive integer, got %q", s)
			}
			o.maxTurns = n
			return nil
		}),
	}
	for _, name := range []string{"allowedTools", "allowed-tools", "disallowedTools", "disallowed-tools"} {
		t[name] = flagSpec{kind: kindVariadic, arg: "<tools...>", set: ignore}
	}
	for _, name := range []string{"agent", "agents", "autocompact", "debug-file", "effort", "environment",
		"fallback-model", "json-schema", "max-budget-usd", "name", "permission-prompts", "plugin-dir",
		"plugin-url", "remote-control-session-name-prefix", "setting-sources", "settings", "system-prompt",
		"system-prompt-snapshot", "permission-prompt-tool", "system-prompt-file", "append-system-prompt-file",
		"max-thinking-tokens", "resume-session-at"} {
		t[name] = ignoredValue
	}
	for _, name := range []string{"cloud", "debug", "from-pr", "prompt-suggestions", "remote-control", "teleport", "worktree", "tmux"} {
		t[name] = ignoredOptional
	}
	for _, name := range []string{"add-dir", "betas", "file", "mcp-config", "tools"} {
		t[name] = ignoredVariadic
	}
	for _, name := range []string{"ax-screen-reader", "bg", "background", "bare", "brief", "chrome", "desktop",
		"disable-slash-commands", "exclude-dynamic-system-prompt-sections", "forward-subagent-text", "ide",
		"include-hook-events", "include-partial-messages", "no-chrome", "restricted", "safe-mode",
		"strict-mcp-config", "mcp-debug"} {
		t[name] = ignoredBool
	}
	return t
}

var shortFlags = map[string]string{
	"p": "print", "c": "continue", "d": "debug", "h": "help", "n": "name", "r": "resume", "v": "version", "w": "worktree",
}

// parseArgs parses argv like the CLI's commander setup: --flag value,
// --flag=value, variadic flags that take the following non-dash arguments,
// and one positional prompt. Errors carry the CLI's message.
func parseArgs(args []string) (*options, error) {
	o := &options{outputFormat: "text", inputFormat: "text"}
	table := flagTable()
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		display := arg
		if hasValue {
			display = arg[:strings.Index(arg, "=")]
		}
		if !strings.HasPrefix(arg, "--") {
			long, ok := shortFlags[name]
			if !ok {
				return nil, fmt.Errorf("error: unknown option '%s'", display)
			}
			name = long
		}
		spec, ok := table[name]
		if !ok {
			return nil, fmt.Errorf("error: unknown option '%s'", display)
		}
		var vals []string
		switch spec.kind {
		case kindBool:
			if hasValue {
				return nil, fmt.Errorf("error: option '--%s' does not take an argument", name)
			}
		case kindValue:
			switch {
			case hasValue:
				vals = []string{value}
			case i+1 < len(args) && (!strings.HasPrefix(args[i+1], "-") || args[i+1] == "-"):
				i++
				vals = []string{args[i]}
			default:
				return nil, fmt.Errorf("error: option '--%s %s' argument missing", name, spec.arg)
			}
		case kindOptional:
			if hasValue {
				vals = []string{value}
			} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				vals = []string{args[i]}
			}
		case kindVariadic:
			if hasValue {
				vals = []string{value}
			}
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				vals = append(vals, args[i])
			}
			if len(vals) == 0 {
				return nil, fmt.Errorf("error: option '--%s %s' argument missing", name, spec.arg)
			}
		}
		if err := spec.set(o, vals); err != nil {
			return nil, err
		}
	}
	switch {
	case len(positional) > 1:
		return nil, fmt.Errorf("error: too many arguments. Expected 1 argument but got %d.", len(positional))
	case len(positional) == 1:
		o.prompt, o.hasPrompt = positional[0], true
	}
	return o, nil
}

// checkUsage applies the CLI's cross-flag rules after parsing.
func (o *options) checkUsage() error {
	if !o.print {
		return fmt.Errorf("Error: this fake Claude Code CLI only supports non-interactive use: pass -p/--print")
	}
	if o.outputFormat == "stream-json" && !o.verbose {
		return fmt.Errorf("Error: When using --print, --output-format=stream-json requires --verbose")
	}
	if o.inputFormat == "stream-json" && o.outputFormat != "stream-json" {
		return fmt.Errorf("Error: --input-format=stream-json requires output-format=stream-json.")
	}
	if o.sessionID != "" && !uuidPattern.MatchString(o.sessionID) {
		return fmt.Errorf("Error: Invalid session ID. Must be a valid UUID.")
	}
	if o.sessionID != "" && (o.resumeSet || o.continueLast) && !o.forkSession {
		return fmt.Errorf("Error: --session-id can only be used with --continue or --resume if --fork-session is also specified.")
	}
	if o.resumeSet && o.resume == "" {
		return fmt.Errorf("Error: --resume requires a session ID in non-interactive mode")
	}
	return nil
}

// bypass reports whether the flags ask to skip permission checks, which the
// CLI refuses to do as root outside a sandbox.
func (o *options) bypass() bool {
	return o.skipPermissions || o.allowSkip || o.permissionMode == "bypassPermissions"
}

// mode is the permission mode reported in the init line.
func (o *options) mode() string {
	switch {
	case o.skipPermissions:
		return "bypassPermissions"
	case o.permissionMode != "":
		return o.permissionMode
	}
	return "default"
}

// modelName resolves the CLI's model aliases.
func (o *options) modelName() string {
	switch o.model {
	case "":
		return "claude-opus-5-5"
	case "opus":
		return "claude-opus-5-5"
	case "sonnet":
		return "claude-sonnet-5-5"
	case "fable":
		return "claude-fable-5-5"
	case "haiku":
		return "claude-haiku-5-5"
	}
	return o.model
}
