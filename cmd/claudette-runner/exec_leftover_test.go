package main

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/moby/moby/client"
)

// An exec killed mid-turn leaves its turn recorded and its sandbox running.
// The next exec on that data dir says so, cancels it and runs its own prompt
// (before: it printed the old turn's answer as its own and left its prompt
// queued; the exec after ran that stale prompt, and two answers crashed it).
func TestExecSettlesWhatAKilledExecLeft(t *testing.T) {
	repo := gittest.NewRepo(t, repoFiles)
	data, wsDir := t.TempDir(), filepath.Join(t.TempDir(), "ws")
	const runnerID = "test-exec-left"
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, runnerID: runnerID + "-exec", docker: cli} // exec's runner id
	t.Cleanup(func() { e.removeContainers(); _ = cli.Close() })
	args := func(prompt string) []string {
		return []string{"exec", "--sandbox-image", demotest.Image(t), "--runner-id", runnerID,
			"--data-dir", data, "--workspace-dir", wsDir, "--repo", repo.WorkDir(), "--workspace-id", "left",
			"--sandbox-stop-grace", "2s", prompt}
	}

	// The first exec: killed while its agent sleeps.
	first := exec.Command(binary, args("first prompt\nPROBE sleep 25s")...)
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Process.Kill(); _ = first.Wait() })
	sleeping := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "PROBE sleep") {
				sleeping <- true
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-sleeping:
	case <-time.After(e2eWait):
		t.Fatal("the first exec's agent did not start its probe")
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if len(e.containers()) == 0 {
		t.Fatal("the killed exec left no sandbox: the test cannot show anything")
	}

	code, out, errOut := runBinary(t, nil, args("second prompt")...)
	if code != exitOK || !strings.Contains(out, "Mock reply: second prompt") {
		t.Fatalf("second exec: exit %d, want its own answer\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out, "first prompt") || strings.Contains(out, "Ran 1 probes") {
		t.Errorf("second exec printed the earlier turn:\n%s", out)
	}
	for _, want := range []string{"an earlier exec left turn exec-", "cancelling it", "cleaned up 1 turn(s)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("second exec's stderr lacks %q:\n%s", want, errOut)
		}
	}

	code, out, errOut = runBinary(t, nil, args("third prompt")...)
	if code != exitOK || !strings.Contains(out, "Mock reply: third prompt") || strings.Contains(out, "second prompt") {
		t.Fatalf("third exec: exit %d, want its own answer only\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "earlier exec") {
		t.Errorf("third exec found leftovers again:\n%s", errOut)
	}
}
