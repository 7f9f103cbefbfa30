package handler

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
)

// fieldOf is the field an invalid-params error names in its data.
func fieldOf(t *testing.T, e *rpc.Error) string {
	t.Helper()
	d, ok := e.Data.(map[string]string)
	if !ok {
		t.Fatalf("error %+v has no field data", e)
	}
	return d["field"]
}

// checkInvalid asserts -32602 naming field in the message and the data.
func checkInvalid(t *testing.T, e *rpc.Error, field string) {
	t.Helper()
	if e == nil {
		t.Fatalf("no error, want -32602 naming %s", field)
	}
	if e.Code != rpc.CodeInvalidParams || !strings.Contains(e.Message, field) || fieldOf(t, e) != field {
		t.Fatalf("error %d %q (data %v), want -32602 naming %s", e.Code, e.Message, e.Data, field)
	}
}

func TestDecodeNamesTheField(t *testing.T) {
	tests := map[string]struct {
		params string
		field  string
	}{
		"absent":                  {``, "params"},
		"array":                   {`["ws-1"]`, "params"},
		"prompt number":           {`{"prompt":42}`, "prompt"},
		"workspaceId bool":        {`{"workspaceId":true}`, "workspaceId"},
		"repository string":       {`{"repository":"https://x"}`, "repository"},
		"repository.url number":   {`{"repository":{"url":7}}`, "repository.url"},
		"options array":           {`{"options":[]}`, "options"},
		"options.maxTurns string": {`{"options":{"maxTurns":"20"}}`, "options.maxTurns"},
		"options.maxTurns float":  {`{"options":{"maxTurns":2.5}}`, "options.maxTurns"},
		"options.maxTurns huge":   {`{"options":{"maxTurns":1e30}}`, "options.maxTurns"},
		"allowedTools string":     {`{"options":{"allowedTools":"Bash"}}`, "options.allowedTools"},
		"allowedTools item":       {`{"options":{"allowedTools":[1]}}`, "options.allowedTools"},
		"timeoutSeconds string":   {`{"options":{"timeoutSeconds":"60"}}`, "options.timeoutSeconds"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var p sendParams
			err := decode(json.RawMessage(tt.params), &p)
			if err == nil && len(p.Options) > 0 { // options are read strictly, as turn() does
				var o conversation.Options
				err = decodeOptions(p.Options, &o)
			}
			checkInvalid(t, err, tt.field)
		})
	}
	var p sendParams
	if err := decode(json.RawMessage(` {"workspaceId":"ws-1","unknown":1} `), &p); err != nil || p.WorkspaceID != "ws-1" {
		t.Errorf("decode of a good object: %v, %+v", err, p)
	}
}

func TestSendParamsNameTheField(t *testing.T) {
	good := func() sendParams {
		return sendParams{WorkspaceID: "ws-1", ConversationID: "c-1", Prompt: "hello",
			Repository: &workspace.Repository{URL: "https://git.example.com/acme/app.git", Ref: "main"}}
	}
	tests := map[string]struct {
		mutate    func(p *sendParams)
		allowHTTP bool
		field     string // "" = valid
	}{
		"good":                   {func(p *sendParams) {}, false, ""},
		"http allowed":           {func(p *sendParams) { p.Repository.URL = "http://127.0.0.1:8080/r.git" }, true, ""},
		"http refused":           {func(p *sendParams) { p.Repository.URL = "http://127.0.0.1:8080/r.git" }, false, "repository.url"},
		"workspace missing":      {func(p *sendParams) { p.WorkspaceID = "" }, false, "workspaceId"},
		"workspace traversal":    {func(p *sendParams) { p.WorkspaceID = "../x" }, false, "workspaceId"},
		"workspace hidden":       {func(p *sendParams) { p.WorkspaceID = ".hidden" }, false, "workspaceId"},
		"workspace 65 chars":     {func(p *sendParams) { p.WorkspaceID = strings.Repeat("a", 65) }, false, "workspaceId"},
		"conversation traversal": {func(p *sendParams) { p.ConversationID = "a/../../b" }, false, "conversationId"},
		"prompt empty":           {func(p *sendParams) { p.Prompt = " \n" }, false, "prompt"},
		"prompt too big":         {func(p *sendParams) { p.Prompt = strings.Repeat("x", conversation.MaxPromptBytes+1) }, false, "prompt"},
		"prompt NUL":             {func(p *sendParams) { p.Prompt = "a\x00" }, false, "prompt"},
		"repository missing":     {func(p *sendParams) { p.Repository = nil }, false, "repository.url"},
		"file url":               {func(p *sendParams) { p.Repository.URL = "file:///etc" }, false, "repository.url"},
		"ext transport":          {func(p *sendParams) { p.Repository.URL = "ext::sh -c id" }, false, "repository.url"},
		"local path":             {func(p *sendParams) { p.Repository.URL = "/srv/repo" }, false, "repository.url"},
		"ref option":             {func(p *sendParams) { p.Repository.Ref = "--upload-pack=x" }, false, "repository.ref"},
		"model flag": {func(p *sendParams) {
			p.Options = json.RawMessage(`{"model":"--dangerously-skip-permissions"}`)
		}, false, "options.model"},
		"tool injection": {func(p *sendParams) {
			p.Options = json.RawMessage(`{"allowedTools":["Bash; rm"]}`)
		}, false, "options.allowedTools[0]"},
		"permission mode":     {func(p *sendParams) { p.Options = json.RawMessage(`{"permissionMode":"yolo"}`) }, false, "options.permissionMode"},
		"misspelt option":     {func(p *sendParams) { p.Options = json.RawMessage(`{"disallowedTool":["Bash"]}`) }, false, "options.disallowedTool"},
		"option wrong type":   {func(p *sendParams) { p.Options = json.RawMessage(`{"maxTurns":"20"}`) }, false, "options.maxTurns"},
		"options not object":  {func(p *sendParams) { p.Options = json.RawMessage(`["model"]`) }, false, "options"},
		"options null":        {func(p *sendParams) { p.Options = json.RawMessage(`null`) }, false, ""},
		"push never":          {func(p *sendParams) { p.Repository.Push = "never" }, false, ""},
		"push always":         {func(p *sendParams) { p.Repository.Push = "always" }, false, ""},
		"push sometimes":      {func(p *sendParams) { p.Repository.Push = "sometimes" }, false, "repository.push"},
		"push upper case":     {func(p *sendParams) { p.Repository.Push = "Always" }, false, "repository.push"},
		"own branch":          {func(p *sendParams) { p.Repository.Branch = "claudette/fix-1" }, false, ""},
		"other branch, never": {func(p *sendParams) { p.Repository.Branch = "feature/x" }, false, ""},
		"other branch, always": {func(p *sendParams) {
			p.Repository.Branch, p.Repository.Push = "feature/x", "always"
		}, false, "repository.branch"},
		"nested own branch, always": {func(p *sendParams) {
			p.Repository.Branch, p.Repository.Push = "claudette/a/b", "always"
		}, false, "repository.branch"},
		"branch dot dot":      {func(p *sendParams) { p.Repository.Branch = "claudette/a..b" }, false, "repository.branch"},
		"branch space":        {func(p *sendParams) { p.Repository.Branch = "claudette/a b" }, false, "repository.branch"},
		"branch reflog":       {func(p *sendParams) { p.Repository.Branch = "claudette/a@{1}" }, false, "repository.branch"},
		"branch option":       {func(p *sendParams) { p.Repository.Branch = "-claudette" }, false, "repository.branch"},
		"branch lock":         {func(p *sendParams) { p.Repository.Branch = "claudette/x.lock" }, false, "repository.branch"},
		"branch trailing /":   {func(p *sendParams) { p.Repository.Branch = "claudette/" }, false, "repository.branch"},
		"branch trailing dot": {func(p *sendParams) { p.Repository.Branch = "claudette/x." }, false, "repository.branch"},
		"branch hidden part":  {func(p *sendParams) { p.Repository.Branch = "claudette/.x" }, false, "repository.branch"},
		"branch control":      {func(p *sendParams) { p.Repository.Branch = "claudette/\x1b[2J" }, false, "repository.branch"},
		"branch glob":         {func(p *sendParams) { p.Repository.Branch = "claudette/*" }, false, "repository.branch"},
		"branch colon":        {func(p *sendParams) { p.Repository.Branch = "main:claudette/x" }, false, "repository.branch"},
		"branch full ref":     {func(p *sendParams) { p.Repository.Branch = "refs/heads/claudette/x" }, false, "repository.branch"},
		"good options": {func(p *sendParams) {
			p.Options = json.RawMessage(`{"model":"sonnet","maxTurns":3,"allowedTools":["Bash(git log:*)"]}`)
		}, false, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := good()
			tt.mutate(&p)
			turn, err := p.turn(config.GitConfig{AllowHTTP: tt.allowHTTP, PushBranches: []string{config.DefaultGitPushBranches}})
			if tt.field != "" {
				checkInvalid(t, err, tt.field)
				return
			}
			if err != nil {
				t.Fatalf("turn() = %+v", err)
			}
			want := *p.Repository
			if want.Branch == "" {
				want.Branch = "claudette/c-1" // the default
			}
			if turn.WorkspaceID != p.WorkspaceID || turn.ConversationID != "c-1" || turn.Prompt != "hello" || turn.Repository != want {
				t.Errorf("turn = %+v", turn)
			}
		})
	}
}

func TestCheckIDs(t *testing.T) {
	conv := "c-1"
	if err := checkIDs("ws-1", &conv); err != nil {
		t.Errorf("good ids: %v", err)
	}
	checkInvalid(t, checkIDs("../ws", &conv), "workspaceId")
	bad := ""
	checkInvalid(t, checkIDs("ws-1", &bad), "conversationId")
}

func TestUnknownOptionListsTheKnownOnes(t *testing.T) {
	var o conversation.Options
	e := decodeOptions(json.RawMessage(`{"disallowedTool":["Bash"]}`), &o)
	if e == nil || fieldOf(t, e) != "options.disallowedTool" {
		t.Fatalf("decodeOptions = %+v, want an error naming options.disallowedTool", e)
	}
	const want = "known: model, permissionMode, allowedTools, disallowedTools, maxTurns, appendSystemPrompt, timeoutSeconds, maxTokens, maxUsd)"
	if !strings.HasSuffix(e.Message, want) {
		t.Errorf("message %q does not end with %q", e.Message, want)
	}
}

// With pushing turned off (gitPushBranches empty), push "always" is refused
// at the edge, naming the branch.
func TestPushAlwaysNeedsPushing(t *testing.T) {
	p := sendParams{WorkspaceID: "ws-1", ConversationID: "c-1", Prompt: "hello",
		Repository: &workspace.Repository{URL: "https://git.example.com/acme/app.git", Push: "always"}}
	_, err := p.turn(config.GitConfig{})
	checkInvalid(t, err, "repository.branch")
	if !strings.Contains(err.Message, "allows no pushing") {
		t.Errorf("message %q does not say pushing is off", err.Message)
	}
	p.Repository.Push = "never"
	if _, err := p.turn(config.GitConfig{}); err != nil {
		t.Errorf("push never with pushing off: %+v", err)
	}
}
