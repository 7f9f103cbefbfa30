package conversation

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Options are the optional Claude settings of a conversation.send (CONTRACT section 2).
type Options struct {
	Model              string   `json:"model,omitempty"`
	PermissionMode     string   `json:"permissionMode,omitempty"`
	AllowedTools       []string `json:"allowedTools,omitempty"`
	DisallowedTools    []string `json:"disallowedTools,omitempty"`
	MaxTurns           int      `json:"maxTurns,omitempty"`
	AppendSystemPrompt string   `json:"appendSystemPrompt,omitempty"`
	TimeoutSeconds     int      `json:"timeoutSeconds,omitempty"`
	// MaxTokens and MaxUSD bound the turn's model use (CONTRACT section 7),
	// never above the operator's budgets (the handler checks).
	MaxTokens *int64   `json:"maxTokens,omitempty"`
	MaxUSD    *float64 `json:"maxUsd,omitempty"`
}

// DefaultPermissionMode lets the agent act without prompts: the sandbox is the
// boundary, and the agent runs as a non-root user.
const DefaultPermissionMode = "bypassPermissions"

var (
	permissionModes = []string{"acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "manual", "plan"}
	// Model names: aliases (sonnet), full ids (claude-sonnet-5-5), provider ids
	// (us.anthropic.claude-x:0, claude-x@20250219).
	modelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/\[\]-]{0,127}$`)
	// Tool rules: Bash, mcp__server__tool, Bash(git log:*), Edit(src/**).
	toolPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}(\([^()\x00-\x1f]{1,512}\))?$`)
)

// Field limits.
const (
	maxTurnsLimit       = 1000
	maxSystemPromptSize = 64 << 10
	maxTools            = 128
)

// FieldError is an invalid option, named by its JSON path (options.model).
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks every option so that none can inject a flag or reach the CLI
// malformed: no value starts with '-', names match strict patterns.
func (o Options) Validate() error {
	if o.Model != "" && !modelPattern.MatchString(o.Model) {
		return fieldErr("options.model", "must be a model name (letters, digits, . _ : @ / -), not starting with '-'")
	}
	if o.PermissionMode != "" && !slices.Contains(permissionModes, o.PermissionMode) {
		return fieldErr("options.permissionMode", "must be one of %s", strings.Join(permissionModes, ", "))
	}
	for name, tools := range map[string][]string{"options.allowedTools": o.AllowedTools, "options.disallowedTools": o.DisallowedTools} {
		if len(tools) > maxTools {
			return fieldErr(name, "at most %d entries", maxTools)
		}
		for i, t := range tools {
			if !toolPattern.MatchString(t) {
				return fieldErr(fmt.Sprintf("%s[%d]", name, i), "must be a tool name or rule such as Bash or Bash(git log:*)")
			}
		}
	}
	if o.MaxTurns < 0 || o.MaxTurns > maxTurnsLimit {
		return fieldErr("options.maxTurns", "must be between 1 and %d", maxTurnsLimit)
	}
	if len(o.AppendSystemPrompt) > maxSystemPromptSize {
		return fieldErr("options.appendSystemPrompt", "at most %d bytes", maxSystemPromptSize)
	}
	if strings.HasPrefix(o.AppendSystemPrompt, "-") {
		return fieldErr("options.appendSystemPrompt", "must not start with '-'")
	}
	if strings.ContainsRune(o.AppendSystemPrompt, 0) {
		return fieldErr("options.appendSystemPrompt", "must not contain NUL")
	}
	if o.MaxTokens != nil && *o.MaxTokens < 1 {
		return fieldErr("options.maxTokens", "must be a positive integer")
	}
	if o.MaxUSD != nil && !(*o.MaxUSD > 0) {
		return fieldErr("options.maxUsd", "must be a positive number of USD")
	}
	if o.TimeoutSeconds < 0 {
		return fieldErr("options.timeoutSeconds", "must be a positive number of seconds")
	}
	return nil
}
