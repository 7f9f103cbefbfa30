package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// KeeperMain is the long-lived process of a kept sandbox (run inside it, as
// the sandbox user, by the runner's own binary: `sandbox-shim --keeper`). It
// listens on KeeperDir/KeeperSocket and runs one turn at a time when the
// runner asks (keeperwire.go), each in a process group of its own, with the
// turn's environment over the container's own and /workspace as its
// directory, its stdout and stderr framed into the turn's output file. When
// the turn's command has exited, it kills every other process of the
// container (kill(-1): daemons escape process groups), empties /tmp and
// /dev/shm, writes the exit to the turn's status file and answers the
// runner's wait. It accepts connections only from another user than its own
// (the runner; never the agent) and is not dumpable (no ptrace, no
// /proc/<pid>/mem for the agent). SIGTERM stops the running turn and exits.
// prepare (nil: none) makes each turn's command line what the keeper starts.
func KeeperMain(stderr io.Writer, prepare KeeperPrepare) int {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0)
	// One P: the keeper only copies a turn's output, and every thread it
	// holds is one of the sandbox's process limit the agent does not get.
	runtime.GOMAXPROCS(1)
	path := filepath.Join(KeeperDir, KeeperSocket)
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		fmt.Fprintf(stderr, keeperErrorPrefix+"listen: %v\n", err)
		return KeeperExitNotStarted
	}
	_ = os.Chmod(path, 0o666) // the peer's uid is what is checked
	k := &keeper{uid: os.Getuid(), ended: map[string]keeperExit{}, stderr: stderr, prepare: prepare, once: os.Getenv(keeperOnceEnv) == "1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, keeperOnceEnv+"=") {
			k.base = append(k.base, kv)
		}
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		k.shutdown()
		os.Exit(0)
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go k.serve(c)
	}
}

type keeper struct {
	uid     int
	base    []string
	prepare KeeperPrepare // nil: a turn's command line as it is
	once    bool          // exit after the first turn (sandbox.idle 0: the container ends with its turn)
	stderr  io.Writer

	mu    sync.Mutex
	cur   *keptTurn
	ended map[string]keeperExit // the last turns' exits, by turn id
}

type keptTurn struct {
	id   string
	pgid int
	done chan struct{}
	exit keeperExit
	stop sync.Once
}

func (k *keeper) serve(c *net.UnixConn) {
	defer c.Close()
	if !k.trusted(c) {
		return
	}
	req, files, err := readRequest(c)
	if err != nil {
		return
	}
	switch req.Op {
	case "ping":
		_ = writeReply(c, keeperReply{OK: true})
	case "run":
		if err := k.start(req, files); err != nil {
			for _, f := range files {
				f.Close()
			}
			_ = writeReply(c, keeperReply{Error: err.Error()})
			return
		}
		_ = writeReply(c, keeperReply{OK: true})
	case "wait":
		k.mu.Lock()
		t := k.cur
		ex, ended := k.ended[req.Turn]
		k.mu.Unlock()
		switch {
		case ended:
			_ = writeReply(c, keeperReply{OK: true, Exit: &ex})
		case t != nil && t.id == req.Turn:
			<-t.done
			_ = writeReply(c, keeperReply{OK: true, Exit: &t.exit})
		default:
			_ = writeReply(c, keeperReply{OK: true, Exit: &keeperExit{Turn: req.Turn, Code: KeeperExitNotStarted, Note: "the sandbox never started this turn"}})
		}
	case "stop":
		k.mu.Lock()
		t := k.cur
		k.mu.Unlock()
		if t != nil && t.id == req.Turn {
			k.stopTurn(t, req.Grace)
		}
		_ = writeReply(c, keeperReply{OK: true})
	default:
		_ = writeReply(c, keeperReply{Error: "unknown op"})
	}
}

// trusted accepts the runner only: a peer of another uid than the sandbox's.
func (k *keeper) trusted(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return int(cred.Uid) != k.uid
}

// start runs a turn: files are the prompt (stdin), the output and the status file.
func (k *keeper) start(req keeperRequest, files []*os.File) error {
	if len(files) != 3 || len(req.Argv) == 0 || req.Turn == "" {
		return errors.New("a run needs a turn id, a command and three files")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur != nil {
		select {
		case <-k.cur.done:
		default:
			return fmt.Errorf("turn %s is still running", k.cur.id)
		}
	}
	if _, dup := k.ended[req.Turn]; dup {
		return fmt.Errorf("turn %s already ran", req.Turn)
	}
	stdin, out, status := files[0], files[1], files[2]
	w := &frameWriter{f: out}
	kc, prepErr := KeeperCommand{Argv: req.Argv}, error(nil)
	if k.prepare != nil {
		kc, prepErr = k.prepare(req.Argv)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		kc.close()
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		kc.close()
		outR.Close()
		outW.Close()
		return err
	}
	t := &keptTurn{id: req.Turn, done: make(chan struct{}), exit: keeperExit{Turn: req.Turn}}
	var cmd *exec.Cmd
	startErr := prepErr
	if prepErr == nil {
		cmd = exec.Command(kc.Argv[0], kc.Argv[1:]...)
		cmd.Env = mergeEnv(k.base, req.Env)
		cmd.Dir = WorkspacePath
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, outW, errW
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		startErr = cmd.Start()
	}
	outW.Close()
	errW.Close()
	stdin.Close()
	var copiers sync.WaitGroup
	copiers.Add(2)
	go func() { defer copiers.Done(); w.copy(1, outR) }()
	go func() { defer copiers.Done(); w.copy(2, errR) }()
	var expired atomic.Bool
	var deadline *time.Timer
	if startErr == nil {
		t.pgid = cmd.Process.Pid
		t.exit.Started = true
		if kc.Deadline > 0 {
			// No runner stopped the turn by its deadline (none watches):
			// the keeper does, as the shim of a sandbox of its own would.
			deadline = time.AfterFunc(kc.Deadline, func() {
				expired.Store(true)
				k.stopTurn(t, kc.Grace)
			})
		}
	}
	k.cur = t
	go func() {
		code := 0
		var setup *KeeperSetupError
		switch {
		case errors.As(startErr, &setup):
			code = setup.Code
			w.write(2, []byte(ShimErrorPrefix+setup.Err.Error()+"\n"))
		case startErr != nil:
			code = 126
			if errors.Is(startErr, exec.ErrNotFound) || errors.Is(startErr, os.ErrNotExist) {
				code = 127
			}
			w.write(2, []byte(ShimErrorPrefix+startErr.Error()+"\n"))
		default:
			_ = cmd.Wait()
			code = waitCode(cmd.ProcessState)
			if deadline != nil {
				deadline.Stop()
			}
		}
		killOthers()
		kc.close()
		copiers.Wait()
		outR.Close()
		errR.Close()
		cleanScratch()
		if expired.Load() {
			code = kc.DeadlineCode
			w.write(2, []byte(ShimErrorPrefix+kc.DeadlineNote+"\n"))
		}
		t.exit.Code = code
		// No fsync of the output or the status: they describe processes that
		// do not outlive the machine; the runner re-reads them after a crash
		// of its own, from the page cache.
		if b, err := json.Marshal(t.exit); err == nil {
			_, _ = status.Write(b)
		}
		out.Close()
		status.Close()
		k.mu.Lock()
		if len(k.ended) > 16 {
			clear(k.ended)
		}
		k.ended[t.id] = t.exit
		k.mu.Unlock()
		close(t.done)
		if k.once {
			time.Sleep(100 * time.Millisecond) // the waiting runner's answer; without it, it reads the status file
			os.Exit(0)
		}
	}()
	return nil
}

// KeeperPrepare turns a turn's command line into what the keeper starts
// and runs around it (KeeperMain): the relay's shim does its work (the
// forwarders to the runner's sockets, the deadline) inside the keeper
// instead of in a process of its own per turn. A *KeeperSetupError ends
// the turn before anything started.
type KeeperPrepare func(argv []string) (KeeperCommand, error)

// KeeperCommand is the command a keeper starts for a turn and what it
// keeps around it.
type KeeperCommand struct {
	Argv []string
	// Deadline, from the command's start, stops the turn (SIGTERM to its
	// group, Grace, then every process) when no runner did; the turn then
	// ends with DeadlineCode and DeadlineNote in its stderr. 0: none.
	Deadline, Grace time.Duration
	DeadlineCode    int
	DeadlineNote    string
	// Close ends what runs around the command, once it has ended.
	Close func()
}

func (c KeeperCommand) close() {
	if c.Close != nil {
		c.Close()
	}
}

// KeeperSetupError is a turn the keeper could not set up: Err goes to the
// turn's stderr (after ShimErrorPrefix) and Code is its exit.
type KeeperSetupError struct {
	Code int
	Err  error
}

func (e *KeeperSetupError) Error() string { return e.Err.Error() }

// keeperErrorPrefix starts the keeper's own errors in its container's log.
const keeperErrorPrefix = "claudette-runner keeper: "

// ShimErrorPrefix starts every line the keeper writes into a turn's stderr
// about the turn itself (the same words as the relay's shim).
const ShimErrorPrefix = "claudette-runner sandbox-shim: "

// stopTurn sends SIGTERM to the turn's process group and, after grace,
// kills every process but the keeper.
func (k *keeper) stopTurn(t *keptTurn, grace time.Duration) {
	t.stop.Do(func() {
		if t.pgid > 0 {
			_ = syscall.Kill(-t.pgid, syscall.SIGTERM)
		}
		go func() {
			select {
			case <-t.done:
			case <-time.After(max(grace, time.Second)):
				killOthers()
			}
		}()
	})
}

// shutdown stops the running turn and waits for its end (SIGTERM to the
// keeper: the container is being stopped).
func (k *keeper) shutdown() {
	k.mu.Lock()
	t := k.cur
	k.mu.Unlock()
	if t == nil {
		return
	}
	k.stopTurn(t, 5*time.Second)
	select {
	case <-t.done:
	case <-time.After(20 * time.Second):
	}
}

// killOthers kills every process of the container the keeper may signal
// but itself and PID 1, until none is left (a fork racing the first kill is
// caught by the next): whatever a turn left, daemonized or not.
func killOthers() {
	self := os.Getpid()
	for i := 0; i < 500; i++ {
		_ = syscall.Kill(-1, syscall.SIGKILL)
		if !othersAlive(self) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// othersAlive reports a process other than PID 1 and self that is not a zombie.
func othersAlive(self int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 || pid == self {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			continue
		}
		return true
	}
	return false
}

// cleanScratch empties /tmp and /dev/shm, so a turn finds them as a new
// sandbox has them.
func cleanScratch() {
	for _, dir := range []string{"/tmp", "/dev/shm"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// mergeEnv is base with over's variables set (over wins).
func mergeEnv(base, over []string) []string {
	set := map[string]bool{}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, over...)
}

func waitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 126
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	return 126
}

// frameWriter writes stdout and stderr into one file in the engine's
// multiplexed framing (stream byte, three zero bytes, big-endian size), the
// format the runner's stream reads.
type frameWriter struct {
	mu sync.Mutex
	f  *os.File
}

func (w *frameWriter) write(stream byte, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	hdr := [8]byte{stream}
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	_, _ = w.f.Write(append(hdr[:], p...))
}

func (w *frameWriter) copy(stream byte, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w.write(stream, buf[:n])
		}
		if err != nil {
			return
		}
	}
}
