package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// maxShOutput bounds what `PROBE sh` keeps of each of stdout and stderr.
const maxShOutput = 64 << 10

// probeSh runs `/bin/sh -c <command>` in the working directory, in its own
// process group (killed whole when the turn is interrupted), and reports
// its exit code and output, each stream cut at maxShOutput bytes.
func probeSh(ctx context.Context, _ *agent, args string) findings {
	if args == "" {
		return failure("usage: PROBE sh <command...>")
	}
	var stdout, stderr boundedBuffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", args)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	kv := []any{"exit", cmd.ProcessState.ExitCode(), "stdout", stdout.String(), "stderr", stderr.String(),
		"truncated", stdout.cut || stderr.cut, "ms", time.Since(start).Milliseconds()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return failure("interrupted", kv...)
	case errors.As(err, &exitErr):
		return failure(exitErr.Error(), kv...)
	case err != nil:
		return failErr(err, kv...)
	}
	return success(kv...)
}

// boundedBuffer keeps the first maxShOutput bytes written and drops the rest.
type boundedBuffer struct {
	buf bytes.Buffer
	cut bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := maxShOutput - b.buf.Len(); room < len(p) {
		b.cut = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *boundedBuffer) String() string { return b.buf.String() }
