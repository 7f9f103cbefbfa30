package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/claudette-dev/claudette-runner/reporter"
)

func finishedItems(msgID string, id json.RawMessage, res conversation.Result) []reporter.Item {
	return []reporter.Item{
		reporter.State(rpc.StateParams{MessageID: msgID, WorkspaceID: "w", ConversationID: "c", Seq: 3, State: rpc.StateFinished}),
		reporter.Response(rpc.Result(id, res)),
	}
}

// Only this exec's answer ends it: another turn's answer is a note, a
// repeated answer changes nothing (it used to close a closed channel).
func TestTranscriptTakesItsOwnAnswerOnly(t *testing.T) {
	var out, notes bytes.Buffer
	own := conversation.Turn{MessageID: "exec-own", RequestID: json.RawMessage(`"exec-own"`)}
	tr := newTranscript(&out, &notes, false, own, "/src/repo")

	if err := tr.Send(t.Context(), finishedItems("exec-old", json.RawMessage(`"exec"`), conversation.Result{Status: rpc.StatusCompleted})...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tr.done:
		t.Fatal("another turn's answer ended this exec")
	default:
	}
	if !strings.Contains(notes.String(), "turn exec-old, left by an earlier exec, ended: completed") {
		t.Errorf("notes %q", notes.String())
	}
	if open := tr.waitFinished([]string{"exec-old"}, 0); len(open) != 0 {
		t.Errorf("the earlier turn is not seen as finished: %v", open)
	}

	git := &workspace.GitReport{Branch: "claudette/demo", Head: "0123456789abcdef0123", Base: "fedcba9876543210fedc",
		FilesChanged: 2, Insertions: 5, Deletions: 1, Pushed: &workspace.PushedRef{Ref: "refs/heads/claudette/demo", SHA: "0123456789abcdef0123"}}
	res := conversation.Result{Status: rpc.StatusCompleted, Git: git}
	for range 2 {
		if err := tr.Send(t.Context(), finishedItems("exec-own", own.RequestID, res)...); err != nil {
			t.Fatal(err)
		}
	}
	<-tr.done
	if ok, status := tr.succeeded(); !ok {
		t.Fatalf("succeeded: %s", status)
	}
	for _, want := range []string{
		"⎇ branch claudette/demo · head 0123456789ab · base fedcba987654 · 2 file(s) changed, +5 -1\n",
		"  pushed claudette/demo at 0123456789ab to /src/repo\n",
		"  see it: git -C /src/repo log --stat claudette/demo\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transcript lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "⎇ branch"); n != 1 {
		t.Errorf("the git report printed %d times", n)
	}
}

func TestTranscriptGitReportNotPushed(t *testing.T) {
	var out bytes.Buffer
	own := conversation.Turn{MessageID: "m", RequestID: json.RawMessage(`"m"`)}
	tr := newTranscript(&out, &out, false, own, "https://example.com/r.git")
	git := &workspace.GitReport{Branch: "claudette/x\x1b[2J", Head: "abc", Dirty: true}
	if err := tr.Send(t.Context(), finishedItems("m", own.RequestID, conversation.Result{Status: rpc.StatusFailed, Git: git})...); err != nil {
		t.Fatal(err)
	}
	want := "⎇ branch claudette/x\\x1b[2J · head abc · base - · 0 file(s) changed, +0 -0 · uncommitted changes left in the checkout\n  not pushed this turn\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

func TestPrintable(t *testing.T) {
	tests := map[string]string{
		"plain text, newline and tab\n\t": "plain text, newline and tab\n\t",
		"é ⎇ ✔":                           "é ⎇ ✔",
		"\x1b[2J\r\x07\x00\x7f":           `\x1b[2J\x0d\x07\x00\x7f`,
		"\u009b1m \u0085":                 `\u009b1m \u0085`,
		"\u202eabc\u2066":                 `\u202eabc\u2066`,
		"bad \xff\xc2 utf8":               `bad \xff\xc2 utf8`,
	}
	for in, want := range tests {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// The runner's own events read as what they say, with the agent's (or the
// host's) words escaped.
func TestTranscriptRunnerEvents(t *testing.T) {
	old, head := strings.Repeat("a", 40), strings.Repeat("b", 40)
	for name, tc := range map[string]struct {
		ev   json.RawMessage
		want string
	}{
		"push":    {rpc.RunnerEvent(rpc.RunnerGitPush, map[string]any{"ref": "refs/heads/claudette/c", "old": old, "new": head}), "⇡ pushed claudette/c: aaaaaaaaaaaa → bbbbbbbbbbbb\n"},
		"refused": {rpc.RunnerEvent(rpc.RunnerGitPushRefused, map[string]any{"ref": "refs/heads/main", "reason": "no\x1b[2J"}), "⇡ push of main refused: no\\x1b[2J\n"},
		"egress":  {rpc.RunnerEvent(rpc.RunnerEgressRefused, map[string]any{"host": "example.com", "port": 22, "reason": "port_not_allowed"}), "! connection to example.com:22 refused: port_not_allowed\n"},
		"budget":  {rpc.RunnerEvent(rpc.RunnerBudgetExhausted, map[string]any{"budget": "turn_tokens", "used": 12, "limit": 10}), "! budget turn_tokens exhausted: 12 of 10\n"},
		"invalid": {rpc.RunnerEvent(rpc.RunnerInvalidLine, map[string]any{"text": "plain"}), "! output line not relayed as JSON: plain\n"},
		"unknown": {rpc.RunnerEvent("new_thing", map[string]any{"x": 1}), `! runner: {"subtype":"new_thing","type":"runner","x":1}` + "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, notes bytes.Buffer
			tr := newTranscript(&out, &notes, false, conversation.Turn{MessageID: "m"}, "/src/repo")
			tr.printEvent(tc.ev)
			if out.String() != tc.want {
				t.Errorf("printed %q, want %q", out.String(), tc.want)
			}
		})
	}
}
