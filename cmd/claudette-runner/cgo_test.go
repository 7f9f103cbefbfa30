package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// buildCgo builds the runner as `go build` does on a machine with a C
// compiler (cgo on): a dynamically linked binary. make deps installs gcc.
func buildCgo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "claudette-runner")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build with cgo: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	if !dynamic {
		t.Fatalf("the cgo build %s is static: the test would prove nothing", bin)
	}
	return bin
}

// A runner built with cgo on (dynamically linked) runs a turn: its loader
// and libraries go into the sandbox with it; validate says the shim starts.
func TestCgoBuiltRunnerRunsATurn(t *testing.T) {
	bin := buildCgo(t)
	repo := gittest.NewRepo(t, repoFiles)
	data, wsDir := t.TempDir(), filepath.Join(t.TempDir(), "ws")
	cmd := exec.Command(bin, "exec", "--sandbox-image", demotest.Image(t), "--runner-id", "test-cgo",
		"--data-dir", data, "--workspace-dir", wsDir, "--repo", repo.WorkDir(), "--workspace-id", "cgo-ws",
		"PROBE write /workspace/made.txt by a cgo runner")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "✔ completed") {
		t.Fatalf("exec with the cgo runner: %v\n%s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(wsDir, "cgo-ws", "made.txt")); err != nil || string(got) != "by a cgo runner" {
		t.Errorf("the agent's file: %q, %v", got, err)
	}
	if libs, _ := filepath.Glob(filepath.Join(data, "exec", "bin", "lib", "*")); len(libs) < 2 {
		t.Errorf("the loader and libc were not carried: %v", libs)
	}
}
