package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// exec runs one turn locally in the same sandbox: a local path is cloned into
// the workspace and never touched; --json prints the agent's stream-json; the
// same conversation id resumes the session; the exit status is 0 only on success.
func TestExecRunsOneTurnLocallyAndResumes(t *testing.T) {
	repo := gittest.NewRepo(t, repoFiles)
	src := repo.WorkDir()
	before := repo.Git("status", "--porcelain") + repo.Head()
	data, wsDir := t.TempDir(), filepath.Join(t.TempDir(), "ws")
	args := func(extra ...string) []string {
		return append([]string{"exec", "--sandbox-image", demotest.Image(t), "--runner-id", "test-exec",
			"--data-dir", data, "--workspace-dir", wsDir, "--repo", src,
			"--workspace-id", "exec-ws", "--conversation-id", "exec-conv"}, extra...)
	}

	code, out, errOut := runBinary(t, nil, args("--json", "first prompt\nPROBE write /workspace/made.txt from the sandbox")...)
	if code != exitOK {
		t.Fatalf("first exec: exit %d\n%s\n%s", code, out, errOut)
	}
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("--json printed a line that is not JSON: %q", line)
		}
	}
	if last["type"] != "result" || last["is_error"] != false {
		t.Errorf("last line %v, want a successful result", last)
	}
	if got, err := os.ReadFile(filepath.Join(wsDir, "exec-ws", "made.txt")); err != nil || string(got) != "from the sandbox" {
		t.Errorf("the agent's file in the checkout: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(src, "made.txt")); !os.IsNotExist(err) {
		t.Errorf("the local repository was written to: %v", err)
	}
	if after := repo.Git("status", "--porcelain") + repo.Head(); after != before {
		t.Errorf("the local repository changed:\n%s\nwas\n%s", after, before)
	}

	code, out, errOut = runBinary(t, nil, args("second prompt")...)
	if code != exitOK || !strings.Contains(out, "resumed session") || !strings.Contains(out, "turn 2") {
		t.Fatalf("second exec of the conversation: exit %d, want a resumed session\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "✔ completed") {
		t.Errorf("the transcript lacks the result line:\n%s", out)
	}

	code, _, errOut = runBinary(t, nil, args("PROBE fail the model said no")...)
	if code != exitFailed || !strings.Contains(errOut, "turn failed") {
		t.Fatalf("failed turn: exit %d, want %d and the status\n%s", code, exitFailed, errOut)
	}
}
