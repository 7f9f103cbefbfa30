package relay

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// busybox is the host's static busybox (make deps installs it): the shim's
// child in these tests.
const busybox = "/bin/busybox"

func shim(args ...string) *exec.Cmd {
	return exec.Command(shimBinary, append([]string{ShimCommand}, args...)...)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A forwarded loopback port reaches the Unix socket; stdin and stdout are
// the child's; the exit code is the child's.
func TestShimForwardsAndPassesThrough(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte("pong " + line))
			}()
		}
	}()
	addr := freePort(t)
	host, port, _ := net.SplitHostPort(addr)
	cmd := shim("--forward", addr+"="+sock, "--", busybox, "sh", "-c",
		"read line; echo \"$line\" | "+busybox+" nc "+host+" "+port+"; exit 7")
	cmd.Stdin = strings.NewReader("ping from stdin\n")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("exit: %v, want code 7", err)
	}
	if string(out) != "pong ping from stdin\n" {
		t.Errorf("stdout %q", out)
	}
}

// SIGTERM reaches the child, which decides the exit code; a child killed by
// a signal gives 128+signal.
func TestShimSignals(t *testing.T) {
	cmd := shim("--", busybox, "sh", "-c", `trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	br := bufio.NewReader(stdout)
	if line, _ := br.ReadString('\n'); line != "ready\n" {
		t.Fatalf("first line %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := br.ReadString('\n')
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 || rest != "got-term\n" {
		t.Errorf("exit %v, output %q; want 42 after got-term", err, rest)
	}

	err = shim("--", busybox, "sh", "-c", "kill -KILL $$").Run()
	if !errors.As(err, &ee) || ee.ExitCode() != 128+9 {
		t.Errorf("killed child: %v, want exit 137", err)
	}
}

// When a forward cannot be set up, the command never runs.
func TestShimFailsClosed(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cases := map[string][]string{
		"socket missing":    {"--forward", freePort(t) + "=" + filepath.Join(t.TempDir(), "none.sock")},
		"not loopback":      {"--forward", "0.0.0.0:4141=/run/claudette/model.sock"},
		"not a socket path": {"--forward", "127.0.0.1:4141=model.sock"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := shim(append(args, "--", busybox, "touch", marker)...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != ShimExitSetup {
				t.Errorf("exit %v, want %d: %s", err, ShimExitSetup, out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("the command ran")
			}
		})
	}
	if err := shim("--", filepath.Join(t.TempDir(), "nothing")).Run(); err == nil {
		t.Error("a missing command succeeded")
	}
}
