package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// CompileAgent builds the fake claude CLI as a static Linux binary at out
// (CGO_ENABLED=0 go build -trimpath), for the host's architecture.
func CompileAgent(ctx context.Context, out string) error {
	dir, err := AgentDir()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("compile agent: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
