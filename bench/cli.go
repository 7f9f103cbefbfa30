package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// CLIRun is one run of the Docker CLI.
type CLIRun struct {
	FirstByte time.Duration // from exec to the first byte on stdout
	Total     time.Duration // from exec to the CLI's exit
	Stdout    []byte
}

// DockerCLI runs `docker args...` with stdin and times it. A non-zero exit
// is an error that carries stderr.
func DockerCLI(ctx context.Context, stdin []byte, args ...string) (CLIRun, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return CLIRun{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return CLIRun{}, fmt.Errorf("docker %v: %w", args, err)
	}
	var run CLIRun
	var buf bytes.Buffer
	one := make([]byte, 1)
	if n, _ := out.Read(one); n == 1 {
		run.FirstByte = time.Since(start)
		buf.Write(one)
	}
	_, _ = io.Copy(&buf, out)
	err = cmd.Wait()
	run.Total = time.Since(start)
	run.Stdout = buf.Bytes()
	if err != nil {
		return run, fmt.Errorf("docker %v: %w: %s", args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return run, nil
}
