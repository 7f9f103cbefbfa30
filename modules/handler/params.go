package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/containerd/errdefs"
)

type sendParams struct {
	WorkspaceID    string                `json:"workspaceId"`
	ConversationID string                `json:"conversationId"`
	Prompt         string                `json:"prompt"`
	Repository     *workspace.Repository `json:"repository"`
	Options        json.RawMessage       `json:"options"`
}

type conversationRef struct {
	WorkspaceID    string `json:"workspaceId"`
	ConversationID string `json:"conversationId"`
}

type workspaceRef struct {
	WorkspaceID string `json:"workspaceId"`
}

// decode reads params into v; every failure is -32602 naming what is wrong.
func decode(raw json.RawMessage, v any) *rpc.Error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalid("params", "must be an object")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid(te.Field, fmt.Sprintf("must be %s, not %s", jsonType(te.Type.Kind().String()), te.Value))
		}
		return invalid("params", err.Error())
	}
	return nil
}

// knownOptions lists conversation.Options' JSON names, in field order, for the
// error naming an unknown option.
var knownOptions = func() string {
	t := reflect.TypeFor[conversation.Options]()
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}()

// decodeOptions reads options strictly: an unknown option is an error naming
// it, because a misspelt one (disallowedTool) would silently drop a limit the
// orchestrator meant to set.
func decodeOptions(raw json.RawMessage, o *conversation.Options) *rpc.Error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalid("options", "must be an object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(o); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid("options."+te.Field, fmt.Sprintf("must be %s, not %s", jsonType(te.Type.Kind().String()), te.Value))
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field := "options." + strings.Trim(name, `"`)
			return invalid(field, "is not an option (known: "+knownOptions+")")
		}
		return invalid("options", err.Error())
	}
	return nil
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case kind == "slice":
		return "an array"
	case kind == "struct", kind == "map", kind == "ptr":
		return "an object"
	}
	return kind
}

func invalid(field, msg string) *rpc.Error {
	return &rpc.Error{Code: rpc.CodeInvalidParams, Message: fmt.Sprintf("invalid params: %s %s", field, msg),
		Data: map[string]string{"field": field}}
}

// fromErr turns a validation error (invalid-argument class) into -32602,
// naming the field the error names, else field.
func fromErr(field string, err error) *rpc.Error {
	var fe *conversation.FieldError
	if errors.As(err, &fe) {
		return invalid(fe.Field, fe.Message)
	}
	var wfe *workspace.FieldError
	if errors.As(err, &wfe) {
		return invalid(wfe.Field, wfe.Reason)
	}
	if errdefs.IsInvalidArgument(err) {
		return &rpc.Error{Code: rpc.CodeInvalidParams, Message: "invalid params: " + err.Error(), Data: map[string]string{"field": field}}
	}
	return invalid(field, err.Error())
}

// turn checks a conversation.send and builds its Turn; repository.branch
// gets its default (claudette/{conversationId}).
func (p sendParams) turn(git config.GitConfig) (conversation.Turn, *rpc.Error) {
	if rerr := checkIDs(p.WorkspaceID, &p.ConversationID); rerr != nil {
		return conversation.Turn{}, rerr
	}
	switch {
	case strings.TrimSpace(p.Prompt) == "":
		return conversation.Turn{}, invalid("prompt", "must not be empty")
	case len(p.Prompt) > conversation.MaxPromptBytes:
		return conversation.Turn{}, invalid("prompt", fmt.Sprintf("must be at most 1 MiB, got %d bytes", len(p.Prompt)))
	case !utf8.ValidString(p.Prompt) || strings.ContainsRune(p.Prompt, 0):
		return conversation.Turn{}, invalid("prompt", "must be UTF-8 text without NUL")
	}
	// Every turn names its repository: the first clones it, later ones must
	// name the same (the workspace refuses another one when it prepares).
	var repo workspace.Repository
	if p.Repository != nil {
		repo = *p.Repository
	}
	if err := workspace.ValidateRepository(repo, git.AllowHTTP); err != nil {
		return conversation.Turn{}, fromErr("repository.url", err)
	}
	if repo.Branch == "" {
		repo.Branch = workspace.DefaultBranch(p.ConversationID)
	}
	if err := workspace.ValidateGit(repo.Push, repo.Branch, git.PushBranches); err != nil {
		return conversation.Turn{}, fromErr("repository.branch", err)
	}
	var opts conversation.Options
	if len(p.Options) > 0 && string(bytes.TrimSpace(p.Options)) != "null" {
		if rerr := decodeOptions(p.Options, &opts); rerr != nil {
			return conversation.Turn{}, rerr
		}
		if err := opts.Validate(); err != nil {
			return conversation.Turn{}, fromErr("options", err)
		}
	}
	return conversation.Turn{WorkspaceID: p.WorkspaceID, ConversationID: p.ConversationID, Prompt: p.Prompt,
		Repository: repo, Options: opts}, nil
}
