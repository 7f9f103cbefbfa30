package relay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
)

// Shim exit codes of its own, before the command ran (the shell's).
const (
	ShimExitSetup    = 125 // the forwarders could not start
	ShimExitNotFound = 127 // the command does not exist
	ShimExitNoExec   = 126 // the command cannot run
	// ShimExitDeadline: the turn's deadline passed and the shim stopped the
	// command itself (no runner did); its stderr says so (ShimDeadlineMessage).
	ShimExitDeadline = 124
)

// ShimErrorPrefix starts every line the shim itself writes to stderr (the
// keeper's about a turn too).
const ShimErrorPrefix = sandbox.ShimErrorPrefix

// ShimDeadlineMessage starts the shim's line when it stopped the command at
// the deadline.
const ShimDeadlineMessage = "turn deadline passed"

// deadlineMargin is how long after the turn's timeout and the stop grace the
// shim acts: a runner that watches always stops the sandbox first, with its
// own reason; the shim only ends a turn nobody stopped.
const deadlineMargin = 10 * time.Second

// shimDeadline is the --deadline the shim gets for a turn timeout.
func shimDeadline(timeout, grace time.Duration) time.Duration {
	return timeout + grace + deadlineMargin
}

// ShimParams is one run of the shim.
type ShimParams struct {
	Forwards []Forward
	Argv     []string
	Stderr   io.Writer
	// Deadline, counted from the shim's start, stops the command (SIGTERM,
	// Grace, SIGKILL) and exits ShimExitDeadline; 0 = none.
	Deadline, Grace time.Duration
}

// Forward is one loopback TCP address in the sandbox forwarded to a Unix
// socket of the runner.
type Forward struct{ Addr, Socket string }

// ParseForward reads "127.0.0.1:4141=/run/claudette/model.sock". Only a
// loopback address is accepted: the shim never listens beyond the sandbox.
func ParseForward(s string) (Forward, error) {
	addr, sock, ok := strings.Cut(s, "=")
	if !ok || sock == "" || !strings.HasPrefix(sock, "/") {
		return Forward{}, fmt.Errorf("forward %q is not ADDR=/SOCKET", s)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return Forward{}, fmt.Errorf("forward %q: %w", s, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return Forward{}, fmt.Errorf("forward %q: listen address must be loopback", s)
	}
	return Forward{Addr: addr, Socket: sock}, nil
}

// RunShim is the sandbox's command: it listens on every forward's address,
// checks that each socket answers, then runs argv as its child with this
// process's stdin, stdout and stderr, passes SIGTERM, SIGINT, SIGHUP and
// SIGQUIT on, and returns the child's exit code (128+signal when a signal
// ended it). When a forward cannot be set up the command never runs. Past
// the deadline it stops the child itself and returns ShimExitDeadline.
func RunShim(p ShimParams) int {
	start := time.Now()
	forwards, argv, stderr := p.Forwards, p.Argv, p.Stderr
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, ShimErrorPrefix+format+"\n", args...)
		return code
	}
	if len(argv) == 0 {
		return fail(ShimExitSetup, "no command to run")
	}
	if _, err := startForwards(forwards); err != nil {
		return fail(ShimExitSetup, "%v", err)
	}

	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(signals)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return fail(ShimExitNotFound, "%v", err)
		}
		return fail(ShimExitNoExec, "%v", err)
	}
	var deadline, kill <-chan time.Time
	if p.Deadline > 0 {
		t := time.NewTimer(time.Until(start.Add(p.Deadline)))
		defer t.Stop()
		deadline = t.C
	}
	done := make(chan struct{})
	expired := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-signals:
				_ = cmd.Process.Signal(s)
			case <-deadline:
				deadline = nil
				close(expired)
				_ = cmd.Process.Signal(syscall.SIGTERM)
				kill = time.After(max(p.Grace, time.Second))
			case <-kill:
				_ = cmd.Process.Kill()
			case <-done:
				return
			}
		}
	}()
	_ = cmd.Wait() // the exit status says it all
	close(done)
	select {
	case <-expired:
		return fail(ShimExitDeadline, "%s", deadlineNote(p.Deadline))
	default:
	}
	return exitCode(cmd.ProcessState)
}

// deadlineNote is the shim's line when it stopped the command at its deadline.
func deadlineNote(d time.Duration) string {
	return fmt.Sprintf("%s (%s): stopped the agent, no runner did", ShimDeadlineMessage, d)
}

// startForwards checks that each forward's socket answers and serves its
// loopback address; stop closes the listeners (connections being served
// end with their peers).
func startForwards(forwards []Forward) (stop func(), err error) {
	var lns []net.Listener
	stop = func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	for _, f := range forwards {
		if err := probeSocket(f.Socket); err != nil {
			stop()
			return nil, fmt.Errorf("cannot reach the runner at %s: %w", f.Socket, err)
		}
		ln, err := net.Listen("tcp", f.Addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("listen on %s: %w", f.Addr, err)
		}
		lns = append(lns, ln)
		go serveForward(ln, f.Socket)
	}
	return stop, nil
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return ShimExitNoExec
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := ps.ExitCode(); code >= 0 {
		return code
	}
	return ShimExitNoExec
}

// probeSocket connects once, so a socket the runtime will not let the
// sandbox reach fails the start with a clear reason instead of every request.
func probeSocket(path string) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("%w (under gVisor the runtime needs --host-uds=open)", err)
		}
		return err
	}
	return c.Close()
}

// serveForward accepts until the listener is closed; each connection is copied to
// a new connection to the socket.
func serveForward(ln net.Listener, socket string) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond) // a timeout, EMFILE and the like: back off, keep serving
			continue
		}
		go func() {
			up, err := net.DialTimeout("unix", socket, 10*time.Second)
			if err != nil {
				c.Close()
				return
			}
			pipe(c, up)
			c.Close()
			up.Close()
		}()
	}
}
