package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// The readable transcript never writes the agent's control characters to
// the terminal (they could clear the screen, set the title, overwrite a
// line); --json stays byte-exact. The fake agent echoes the prompt.
func TestExecTranscriptEscapesControlCharacters(t *testing.T) {
	repo := gittest.NewRepo(t, repoFiles)
	data, wsDir := t.TempDir(), filepath.Join(t.TempDir(), "ws")
	const hostile = "hi \x1b]0;pwned\x07\x1b[2J\rforged line \u009b31m\u202eevil\ttab"
	args := func(extra ...string) []string {
		return append([]string{"exec", "--sandbox-image", demotest.Image(t), "--runner-id", "test-exec-esc",
			"--data-dir", data, "--workspace-dir", wsDir, "--repo", repo.WorkDir(), "--workspace-id", "esc"}, extra...)
	}

	code, out, errOut := runBinary(t, nil, args(hostile)...)
	if code != exitOK {
		t.Fatalf("exec: exit %d\n%q\n%s", code, out, errOut)
	}
	for i, r := range out {
		if r == utf8.RuneError || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x202e {
			t.Fatalf("the transcript wrote control character %U at %d:\n%q", r, i, out)
		}
	}
	want := `Mock reply: hi \x1b]0;pwned\x07\x1b[2J\x0dforged line \u009b31m\u202eevil` + "\ttab"
	if !strings.Contains(out, want) {
		t.Errorf("the transcript lacks the escaped text %q:\n%q", want, out)
	}

	code, out, errOut = runBinary(t, nil, args("--json", hostile)...)
	if code != exitOK {
		t.Fatalf("exec --json: exit %d\n%q\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "\u009b31m\u202eevil") {
		t.Errorf("--json changed the agent's bytes:\n%q", out)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Type    string `json:"type"`
			Message struct {
				Content []struct{ Text string } `json:"content"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("--json line is not JSON: %q", line)
		}
		if ev.Type == "assistant" && len(ev.Message.Content) > 0 && ev.Message.Content[0].Text == "Mock reply: "+hostile {
			found = true
		}
	}
	if !found {
		t.Errorf("--json lacks the agent's exact text:\n%q", out)
	}
}

// --branch and --push are checked before any work: a clear error, exit 2.
func TestExecRefusesBadBranchAndPush(t *testing.T) {
	base := []string{"exec", "--data-dir", t.TempDir(), "--workspace-dir", t.TempDir(), "--repo", t.TempDir(),
		"--sandbox-image", "claudette-test/never-used:latest"}
	tests := map[string]struct {
		args []string
		want string
	}{
		"push other than never or always": {[]string{"--push", "sometimes"}, `--push must be "never" or "always", got "sometimes"`},
		"branch with ..":                  {[]string{"--branch", "claudette/a..b"}, `--branch "claudette/a..b" is not a valid branch name`},
		"branch with a space":             {[]string{"--branch", "claudette/a b"}, "spaces or control characters"},
		"branch with @{":                  {[]string{"--branch", "claudette/a@{1}"}, "'@{'"},
		"branch like an option":           {[]string{"--branch=-x"}, "starts with '-'"},
		"push always to a branch not allowed": {[]string{"--push", "always", "--branch", "main"},
			`--branch "main" does not match the branches this runner may push (claudette/*)`},
		"push always with pushing off": {[]string{"--push", "always", "--git-push-branches", ""}, "allows no pushing"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runBinary(t, nil, append(append(base, tc.args...), "a prompt")...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q; stderr:\n%s", code, exitUsage, tc.want, errOut)
			}
		})
	}
}
