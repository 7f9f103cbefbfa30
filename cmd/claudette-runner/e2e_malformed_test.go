package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// malformed is one bad message and the answer it must get.
type malformed struct {
	payload string // the row's payload, raw
	code    int
	field   string // -32602: the field the error names (message and data.field)
	noID    bool   // the request's id cannot be read: the answer goes to id null
}

// malformedCorpus builds the bad messages; url is a repository the runner
// could clone, so that only the fault under test is wrong. Message ids are
// the map keys and also the request ids where the payload has one.
func malformedCorpus(url string) map[string]malformed {
	send := func(id string, mutate func(p map[string]any)) string {
		p := map[string]any{"workspaceId": "ws-m", "conversationId": "conv-m", "prompt": "hello",
			"repository": map[string]any{"url": url}}
		mutate(p)
		return string(request(id, rpc.MethodConversationSend, p))
	}
	opt := func(id, key string, v any) string {
		return send(id, func(p map[string]any) { p["options"] = map[string]any{key: v} })
	}
	repo := func(id, u string) string {
		return send(id, func(p map[string]any) { p["repository"] = map[string]any{"url": u} })
	}
	set := func(id, key string, v any) string { return send(id, func(p map[string]any) { p[key] = v }) }
	bad := func(payload string, code int, field string) malformed {
		return malformed{payload: payload, code: code, field: field}
	}
	return map[string]malformed{
		// Not a request at all.
		"bad-json":       {payload: `{"jsonrpc":"2.0","id":"bad-json","method":`, code: rpc.CodeParseError, noID: true},
		"not-an-object":  {payload: `["conversation.send"]`, code: rpc.CodeInvalidRequest, noID: true},
		"no-id":          {payload: `{"jsonrpc":"2.0","method":"runner.ping","params":{}}`, code: rpc.CodeInvalidRequest, noID: true},
		"object-id":      {payload: `{"jsonrpc":"2.0","id":{"a":1},"method":"runner.ping"}`, code: rpc.CodeInvalidRequest, noID: true},
		"no-jsonrpc":     bad(`{"id":"no-jsonrpc","method":"runner.ping","params":{}}`, rpc.CodeInvalidRequest, ""),
		"jsonrpc-1":      bad(`{"jsonrpc":"1.0","id":"jsonrpc-1","method":"runner.ping","params":{}}`, rpc.CodeInvalidRequest, ""),
		"no-method":      bad(`{"jsonrpc":"2.0","id":"no-method","params":{}}`, rpc.CodeInvalidRequest, ""),
		"params-string":  bad(`{"jsonrpc":"2.0","id":"params-string","method":"conversation.send","params":"ws-m"}`, rpc.CodeInvalidRequest, ""),
		"unknown-method": bad(string(request("unknown-method", "conversation.explode", map[string]any{})), rpc.CodeMethodNotFound, ""),
		// Invalid params, each naming its field.
		"params-array":     bad(`{"jsonrpc":"2.0","id":"params-array","method":"conversation.send","params":["ws-m"]}`, rpc.CodeInvalidParams, "params"),
		"prompt-number":    bad(set("prompt-number", "prompt", 42), rpc.CodeInvalidParams, "prompt"),
		"prompt-empty":     bad(set("prompt-empty", "prompt", "  "), rpc.CodeInvalidParams, "prompt"),
		"prompt-nul":       bad(set("prompt-nul", "prompt", "a\x00b"), rpc.CodeInvalidParams, "prompt"),
		"prompt-too-big":   bad(set("prompt-too-big", "prompt", strings.Repeat("p", 1<<20+1)), rpc.CodeInvalidParams, "prompt"),
		"max-turns-string": bad(opt("max-turns-string", "maxTurns", "20"), rpc.CodeInvalidParams, "options.maxTurns"),
		"no-workspace":     bad(send("no-workspace", func(p map[string]any) { delete(p, "workspaceId") }), rpc.CodeInvalidParams, "workspaceId"),
		"ws-traversal":     bad(set("ws-traversal", "workspaceId", "../x"), rpc.CodeInvalidParams, "workspaceId"),
		"ws-hidden":        bad(set("ws-hidden", "workspaceId", ".hidden"), rpc.CodeInvalidParams, "workspaceId"),
		"ws-65-chars":      bad(set("ws-65-chars", "workspaceId", strings.Repeat("w", 65)), rpc.CodeInvalidParams, "workspaceId"),
		"ws-slash":         bad(set("ws-slash", "workspaceId", "a/b"), rpc.CodeInvalidParams, "workspaceId"),
		"ws-not-the-rows":  bad(set("ws-not-the-rows", "workspaceId", "ws-other"), rpc.CodeInvalidParams, "workspaceId"),
		"conv-traversal":   bad(set("conv-traversal", "conversationId", "../../etc"), rpc.CodeInvalidParams, "conversationId"),
		"no-repository":    bad(send("no-repository", func(p map[string]any) { delete(p, "repository") }), rpc.CodeInvalidParams, "repository.url"),
		"repo-file":        bad(repo("repo-file", "file:///etc"), rpc.CodeInvalidParams, "repository.url"),
		"repo-ext":         bad(repo("repo-ext", "ext::sh -c touch% /tmp/pwned"), rpc.CodeInvalidParams, "repository.url"),
		"repo-ext-nospace": bad(repo("repo-ext-nospace", "ext::/bin/true"), rpc.CodeInvalidParams, "repository.url"),
		"repo-ssh":         bad(repo("repo-ssh", "ssh://git@example.com/acme/app.git"), rpc.CodeInvalidParams, "repository.url"),
		"repo-scp":         bad(repo("repo-scp", "git@example.com:acme/app.git"), rpc.CodeInvalidParams, "repository.url"),
		"repo-local":       bad(repo("repo-local", "/srv/git/app"), rpc.CodeInvalidParams, "repository.url"),
		"repo-credentials": bad(repo("repo-credentials", strings.Replace(url, "http://", "http://user:pw@", 1)), rpc.CodeInvalidParams, "repository.url"),
		"ref-option": bad(send("ref-option", func(p map[string]any) {
			p["repository"] = map[string]any{"url": url, "ref": "--upload-pack=touch /tmp/pwned"}
		}), rpc.CodeInvalidParams, "repository.ref"),
		"model-flag":      bad(opt("model-flag", "model", "--dangerously-skip-permissions"), rpc.CodeInvalidParams, "options.model"),
		"model-dash-x":    bad(opt("model-dash-x", "model", "-x"), rpc.CodeInvalidParams, "options.model"),
		"tool-injection":  bad(opt("tool-injection", "allowedTools", []string{"Edit", "Bash; rm -rf /"}), rpc.CodeInvalidParams, "options.allowedTools[1]"),
		"disallowed-flag": bad(opt("disallowed-flag", "disallowedTools", []string{"--dangerously-skip-permissions"}), rpc.CodeInvalidParams, "options.disallowedTools[0]"),
		"permission-mode": bad(opt("permission-mode", "permissionMode", "yolo"), rpc.CodeInvalidParams, "options.permissionMode"),
		"system-flag":     bad(opt("system-flag", "appendSystemPrompt", "--dangerously-skip-permissions"), rpc.CodeInvalidParams, "options.appendSystemPrompt"),
		"max-turns-neg":   bad(opt("max-turns-neg", "maxTurns", -1), rpc.CodeInvalidParams, "options.maxTurns"),
		"timeout-neg":     bad(opt("timeout-neg", "timeoutSeconds", -5), rpc.CodeInvalidParams, "options.timeoutSeconds"),
		"cancel-traversal": bad(string(request("cancel-traversal", rpc.MethodConversationCancel,
			map[string]any{"workspaceId": "../x", "conversationId": "conv-m"})), rpc.CodeInvalidParams, "workspaceId"),
		"cancel-no-conv": bad(string(request("cancel-no-conv", rpc.MethodConversationCancel,
			map[string]any{"workspaceId": "ws-m"})), rpc.CodeInvalidParams, "conversationId"),
		"delete-no-ws": bad(string(request("delete-no-ws", rpc.MethodWorkspaceDelete, map[string]any{})), rpc.CodeInvalidParams, "workspaceId"),
		"delete-number": bad(string(request("delete-number", rpc.MethodWorkspaceDelete,
			map[string]any{"workspaceId": 7})), rpc.CodeInvalidParams, "workspaceId"),
	}
}

// Every malformed message gets the right JSON-RPC error, nothing of it
// reaches the disk or the engine, the daemon keeps running, and a good
// message afterwards succeeds.
func TestE2EMalformedMessagesGetTheRightErrors(t *testing.T) {
	e := newE2E(t, "malformed")
	corpus := malformedCorpus(e.repoURL())
	if len(corpus) < 20 {
		t.Fatalf("corpus has %d messages", len(corpus))
	}
	// Messages with a readable id at once; id-less ones one by one, since
	// their answers all go to id null.
	var withID []string
	for msgID, m := range corpus {
		if !m.noID {
			e.insert(msgID, "ws-m", []byte(m.payload))
			withID = append(withID, msgID)
		}
	}
	for msgID, m := range corpus {
		if !m.noID {
			continue
		}
		before := len(nullResponses(e.orch.Items()))
		e.insert(msgID, "ws-m", []byte(m.payload))
		e.orch.WaitFor(t, e2eWait, func(items []orchestratortest.Item) bool { return len(nullResponses(items)) > before })
		got := nullResponses(e.orch.Items())[before]
		if got.Error == nil || got.Error.Code != m.code {
			t.Errorf("%s: answer %s, want error %d", msgID, got.Raw, m.code)
		}
	}
	for _, msgID := range withID {
		m := corpus[msgID]
		t.Run(msgID, func(t *testing.T) {
			it := e.response(msgID)
			rerr := wantError(t, it, m.code)
			if m.field == "" {
				return
			}
			if !strings.Contains(rerr.Message, m.field) {
				t.Errorf("message %q does not name %s", rerr.Message, m.field)
			}
			var data struct{ Field string }
			if b, _ := json.Marshal(rerr.Data); json.Unmarshal(b, &data) != nil || data.Field != m.field {
				t.Errorf("data = %v, want field %s", rerr.Data, m.field)
			}
		})
	}
	// No turn was queued for any of them, and nothing reached the disk.
	for _, it := range e.orch.Items() {
		if it.State != nil || it.Event != nil {
			t.Errorf("a malformed message produced %s", it.Raw)
		}
	}
	if entries, _ := os.ReadDir(e.wsDir); len(entries) != 0 {
		t.Errorf("workspace dir has %d entries after malformed messages", len(entries))
	}
	if exists(filepath.Join(filepath.Dir(e.wsDir), "x")) || exists(filepath.Join(e.data, "workspaces", "ws-m")) {
		t.Error("a traversal id left something on disk")
	}
	if left := e.containers(); len(left) != 0 {
		t.Errorf("containers after malformed messages: %v", left)
	}

	// Still alive and well: a good message succeeds.
	e.send("good", "ws-m", "conv-m", "hello after the storm", nil)
	if res := result(t, e.response("good")); res.Status != rpc.StatusCompleted {
		t.Errorf("good message: status %s", res.Status)
	}
	e.checkDelivery("good")
	e.d.waitHTTP(t, "/healthz", 200)
}

// Without --allow-http-repos an http:// repository is refused, naming the field.
func TestE2EHTTPRepositoryNeedsTheOperatorsConsent(t *testing.T) {
	e := newE2E(t, "nohttp", "--allow-http-repos=false")
	e.send("http-repo", "ws-h", "conv-h", "hello", nil)
	rerr := wantError(t, e.response("http-repo"), rpc.CodeInvalidParams)
	if !strings.Contains(rerr.Message, "repository.url") || !strings.Contains(rerr.Message, "http://") {
		t.Errorf("message %q", rerr.Message)
	}
	if exists(e.checkout("ws-h")) {
		t.Error("the http:// repository was cloned")
	}
	if n := len(e.git.Requests()); n != 0 {
		t.Errorf("the git server got %d requests", n)
	}
}

func nullResponses(items []orchestratortest.Item) []orchestratortest.Item {
	var out []orchestratortest.Item
	for _, it := range items {
		if it.IsResponse() && string(it.ID) == "null" {
			out = append(out, it)
		}
	}
	return out
}
