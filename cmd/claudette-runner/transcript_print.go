package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// printEvent prints one stream-json line of the agent readably. Everything
// taken from the line goes through printable.
func (tr *transcript) printEvent(ev json.RawMessage) {
	var e struct {
		Type      string `json:"type"`
		Subtype   string `json:"subtype"`
		SessionID string `json:"session_id"`
		Model     string `json:"model"`
		Message   struct {
			Content []struct {
				Type    string          `json:"type"`
				Text    string          `json:"text"`
				Name    string          `json:"name"`
				Input   json.RawMessage `json:"input"`
				Content json.RawMessage `json:"content"`
				IsError bool            `json:"is_error"`
			} `json:"content"`
		} `json:"message"`
		IsError  bool     `json:"is_error"`
		Result   string   `json:"result"`
		Errors   []string `json:"errors"`
		NumTurns int      `json:"num_turns"`
		Duration int64    `json:"duration_ms"`
		Cost     float64  `json:"total_cost_usd"`
		Text     string   `json:"text"`
	}
	if json.Unmarshal(ev, &e) != nil {
		return
	}
	switch e.Type {
	case "system":
		if e.Subtype == "init" {
			fmt.Fprintf(tr.out, "● session %s · model %s\n", printable(e.SessionID), printable(e.Model))
		}
	case "assistant", "user":
		for _, c := range e.Message.Content {
			switch c.Type {
			case "text":
				fmt.Fprintf(tr.out, "%s\n", printable(strings.TrimSpace(c.Text)))
			case "tool_use":
				fmt.Fprintf(tr.out, "→ %s %s\n", printable(c.Name), clip(toolInput(c.Input), 200))
			case "tool_result":
				var s string
				if json.Unmarshal(c.Content, &s) != nil {
					s = string(c.Content)
				}
				mark := "←"
				if c.IsError {
					mark = "← (error)"
				}
				fmt.Fprintf(tr.out, "  %s %s\n", mark, clip(s, 300))
			}
		}
	case "result":
		mark := "✔ completed"
		if e.IsError {
			mark = "✘ failed: " + printable(strings.Join(e.Errors, "; "))
		}
		fmt.Fprintf(tr.out, "%s · %d turn(s) · %.1fs · $%.4f\n", mark, e.NumTurns, float64(e.Duration)/1000, e.Cost)
	case rpc.EventTypeRunner:
		tr.printRunnerEvent(e.Subtype, e.Text, ev)
	}
}

// printRunnerEvent prints an event the runner added to the stream
// (CONTRACT sections 6 and 7): what it says, in a line.
func (tr *transcript) printRunnerEvent(subtype, text string, ev json.RawMessage) {
	var f struct {
		Ref, Old, New, SHA, Reason, Host, Budget string
		Port, Used, Limit                        json.Number
	}
	_ = json.Unmarshal(ev, &f)
	ref := printable(strings.TrimPrefix(f.Ref, "refs/heads/"))
	switch subtype {
	case rpc.RunnerInvalidLine:
		fmt.Fprintf(tr.out, "! output line not relayed as JSON: %s\n", clip(text, 200))
	case rpc.RunnerGitPush:
		fmt.Fprintf(tr.out, "⇡ pushed %s: %s → %s\n", ref, short(f.Old), short(f.New))
	case rpc.RunnerGitPushRefused:
		fmt.Fprintf(tr.out, "⇡ push of %s refused: %s\n", ref, clip(f.Reason, 200))
	case rpc.RunnerGitPushFailed:
		fmt.Fprintf(tr.out, "⇡ the runner's push of %s failed: %s\n", ref, clip(f.Reason, 200))
	case rpc.RunnerGitCommit:
		fmt.Fprintf(tr.out, "⎇ the runner committed the leftovers on %s: %s\n", ref, short(f.SHA))
	case rpc.RunnerEgressRefused:
		fmt.Fprintf(tr.out, "! connection to %s:%s refused: %s\n", printable(f.Host), printable(f.Port.String()), printable(f.Reason))
	case rpc.RunnerBudgetExhausted:
		fmt.Fprintf(tr.out, "! budget %s exhausted: %s of %s\n", printable(f.Budget), printable(f.Used.String()), printable(f.Limit.String()))
	case rpc.RunnerDiskLimit:
		fmt.Fprintf(tr.out, "! disk limit reached: %s of %s bytes\n", printable(f.Used.String()), printable(f.Limit.String()))
	default:
		fmt.Fprintf(tr.out, "! runner: %s\n", clip(string(ev), 200))
	}
}

// toolInput is a tool call's input as shown: a Bash command as such, any
// other input as its JSON.
func toolInput(input json.RawMessage) string {
	var in struct {
		Command string `json:"command"`
	}
	if json.Unmarshal(input, &in) == nil && in.Command != "" {
		return in.Command
	}
	return string(input)
}

// printGit ends the transcript with the result's git report: the branch and
// its head, the change, and where it was pushed with how to look at it.
func (tr *transcript) printGit(r *conversation.Result) {
	if r == nil || r.Git == nil {
		return
	}
	g := r.Git
	branch := "(detached HEAD)"
	if g.Branch != "" {
		branch = printable(g.Branch)
	}
	fmt.Fprintf(tr.out, "⎇ branch %s · head %s · base %s · %d file(s) changed, +%d -%d",
		branch, short(g.Head), short(g.Base), g.FilesChanged, g.Insertions, g.Deletions)
	if g.Dirty {
		fmt.Fprint(tr.out, " · uncommitted changes left in the checkout")
	}
	fmt.Fprintln(tr.out)
	if g.Pushed == nil {
		fmt.Fprintln(tr.out, "  not pushed this turn")
		return
	}
	ref := printable(strings.TrimPrefix(g.Pushed.Ref, "refs/heads/"))
	where := printable(tr.repo)
	fmt.Fprintf(tr.out, "  pushed %s at %s to %s\n", ref, short(g.Pushed.SHA), where)
	if !strings.Contains(tr.repo, "://") {
		fmt.Fprintf(tr.out, "  see it: git -C %s log --stat %s\n", shellQuote(filepath.Clean(where)), shellQuote(ref))
	}
}

// short is an abbreviated commit id.
func short(sha string) string {
	sha = printable(sha)
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "-"
	}
	return sha
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// clip makes s one printable line of at most n bytes (and an ellipsis).
func clip(s string, n int) string {
	s = strings.ReplaceAll(printable(s), "\n", " ⏎ ")
	s = strings.ReplaceAll(s, "\t", " ")
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xc0 != 0x80 }
