package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// The agent drives the image's git in its checkout through the runner's
// real sandbox (read-only root, uid 1000, no network): status, add, commit,
// log; the local repository exec was given stays as it was.
func TestExecAgentCommitsInTheSandbox(t *testing.T) {
	demotest.RequireGit(t)
	repo := gittest.NewRepo(t, repoFiles)
	before := repo.Git("for-each-ref") + repo.Git("status", "--porcelain")
	prompt := "Commit a note\n" +
		"PROBE sh echo note > NOTE.md && git status --porcelain\n" +
		"PROBE sh git add NOTE.md && git -c user.name=Agent -c user.email=agent@example.com commit -q -m 'Note from the sandbox' && git log --format=%s -1\n"
	code, out, errOut := runBinary(t, nil, "exec", "--sandbox-image", demotest.Image(t), "--runner-id", "test-exec-git",
		"--data-dir", t.TempDir(), "--workspace-dir", filepath.Join(t.TempDir(), "ws"), "--repo", repo.WorkDir(),
		"--workspace-id", "git", "--branch", "claudette/note", prompt)
	if code != exitOK {
		t.Fatalf("exec: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{`"stdout":"?? NOTE.md\n"`, `"stdout":"Note from the sandbox\n"`, "Ran 2 probes: 2 ok, 0 failed."} {
		if !strings.Contains(out, strings.ReplaceAll(want, "\n", `\n`)) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	if after := repo.Git("for-each-ref") + repo.Git("status", "--porcelain"); after != before {
		t.Errorf("the local repository changed without a push:\n%s\nwas\n%s", after, before)
	}
}
