package demotest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo"
	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) { demotest.Main(m) }

func TestImageIsLabelledAndStable(t *testing.T) {
	tag := demotest.Image(t)
	if !strings.HasPrefix(tag, demotest.Repository+":demotest-") {
		t.Fatalf("tag %q does not name this test binary", tag)
	}
	if again := demotest.Image(t); again != tag {
		t.Fatalf("second call gave %q, first %q", again, tag)
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	img, err := cli.ImageInspect(t.Context(), tag)
	if err != nil {
		t.Fatalf("inspect %s: %v", tag, err)
	}
	hash, err := demo.Hash()
	if err != nil {
		t.Fatal(err)
	}
	labels := img.Config.Labels
	if labels[demotest.TestLabel] != "true" || labels[demo.HashLabel] != hash {
		t.Fatalf("labels %v, want test label and hash %s", labels, hash)
	}
	if img.Config.User != "1000:1000" || img.Config.WorkingDir != "/workspace" {
		t.Fatalf("user %q workdir %q", img.Config.User, img.Config.WorkingDir)
	}
}

func TestAgentBinaryRuns(t *testing.T) {
	out, err := exec.Command(demotest.AgentBinary(t), "--version").Output()
	if err != nil {
		t.Fatalf("run agent: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "2.1.330 (Claude Code)" {
		t.Fatalf("version %q", got)
	}
}
