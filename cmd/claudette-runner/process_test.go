package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "claudette-cli-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "claudette-runner")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as `make build`: it is also the sandbox shim
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic(fmt.Sprintf("build the binary: %v", err))
	}
	defer os.RemoveAll(dir)
	demotest.Main(m)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// daemon is the built binary running `start` as a child process.
type daemon struct {
	cmd    *exec.Cmd
	addr   string
	data   string
	stderr *syncBuffer
	done   chan error
}

const testToken = "test-runner-token-do-not-log"

func startDaemon(t *testing.T, data string, args ...string) *daemon {
	t.Helper()
	d := &daemon{addr: freeAddr(t), data: data, stderr: &syncBuffer{}, done: make(chan error, 1)}
	all := append([]string{"start", "--data-dir", data, "--workspace-dir", filepath.Join(t.TempDir(), "ws"),
		"--listen", d.addr, "--shutdown-timeout", "20s", "--sandbox-image", demotest.Image(t), "--runner-id", "test-cli",
		"--electric-url", "http://127.0.0.1:1", "--orchestrator-url", "http://127.0.0.1:1/rpc"}, args...)
	d.cmd = exec.Command(binary, all...)
	d.cmd.Env = append(os.Environ(), "CLAUDETTE_RUNNER_TOKEN="+testToken, "ANTHROPIC_API_KEY=sk-ant-test-key-do-not-log")
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	d.waitHTTP(t, "/healthz", http.StatusOK)
	d.waitLog(t, "runner started")
	return d
}

// waitLog waits for a line of the daemon's console log.
func (d *daemon) waitLog(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.stderrText(), text) {
		select {
		case err := <-d.done:
			t.Fatalf("daemon exited early: %v\n%s", err, d.stderrText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", text, d.stderrText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) get(path string) (int, string, error) {
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

func (d *daemon) waitHTTP(t *testing.T, path string, code int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, body, err := d.get(path)
		if err == nil && got == code {
			return body
		}
		select {
		case err := <-d.done:
			t.Fatalf("daemon exited early: %v\n%s", err, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %d %v, want %d\n%s", path, got, err, code, d.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", d.stderr)
	}
	return d.cmd.ProcessState.ExitCode()
}

func TestDaemonServesHealthMetricsAndStopsOnSIGTERM(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, data, "--debug")
	if _, body, _ := d.get("/healthz"); !strings.Contains(body, "alive") {
		t.Errorf("/healthz body %q", body)
	}
	if code, body, err := d.get("/metrics"); err != nil || code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("/metrics: %d %v", code, err)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, d.stderr)
	}
	logs := filepath.Join(data, "logs")
	for _, name := range []string{"combined.log", "debug.log"} {
		if _, err := os.Stat(filepath.Join(logs, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	combined, _ := os.ReadFile(filepath.Join(logs, "combined.log"))
	if !strings.Contains(string(combined), `"msg":"runner stopped"`) {
		t.Errorf("combined.log lacks the stop line:\n%s", combined)
	}
	// Secrets appear in no log, even at debug level where the configuration is dumped.
	debug, _ := os.ReadFile(filepath.Join(logs, "debug.log"))
	if !strings.Contains(string(debug), "effective configuration") {
		t.Errorf("debug.log lacks the configuration dump")
	}
	for _, f := range [][]byte{combined, debug, []byte(d.stderrText())} {
		for _, secret := range []string{testToken, "sk-ant-test-key-do-not-log"} {
			if bytes.Contains(f, []byte(secret)) {
				t.Errorf("a log contains the secret %q", secret)
			}
		}
	}
}

func TestNoDebugLogWithoutDebug(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, data)
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := os.Stat(filepath.Join(data, "logs", "debug.log")); !os.IsNotExist(err) {
		t.Errorf("debug.log exists without --debug: %v", err)
	}
	if strings.Count(d.stderrText(), "\n") > 16 {
		t.Errorf("a normal start and stop should print a few lines, got:\n%s", d.stderr)
	}
}

func TestLogRotationKeepsABackup(t *testing.T) {
	data := t.TempDir()
	logs := filepath.Join(data, "logs")
	if err := os.MkdirAll(logs, 0o750); err != nil {
		t.Fatal(err)
	}
	// A log already at the size limit: the runner's first line crosses it.
	if err := os.WriteFile(filepath.Join(logs, "combined.log"), bytes.Repeat([]byte("x"), 1<<20), 0o640); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, data, "--log-max-size", "1m", "--log-max-backups", "3")
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	backups, _ := filepath.Glob(filepath.Join(logs, "combined-*.log"))
	if len(backups) != 1 {
		t.Fatalf("want one rotated backup, got %v", backups)
	}
	current, _ := os.ReadFile(filepath.Join(logs, "combined.log"))
	if len(current) >= 1<<20 || !strings.Contains(string(current), "runner started") {
		t.Errorf("current log was not started afresh (%d bytes)", len(current))
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	cmd := exec.Command(binary, "start", "--data-dir", t.TempDir(), "--workspace-dir", t.TempDir(), "--max-concurrent", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitFailed {
		t.Fatalf("exit %v, want 1\n%s", err, out)
	}
	for _, want := range []string{"CLAUDETTE_RUNNER_TOKEN", "--max-concurrent", "not started"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestStartFailsWhenListenAddressIsBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(binary, "start", "--data-dir", t.TempDir(), "--workspace-dir", t.TempDir(), "--listen", ln.Addr().String(),
		"--electric-url", "http://127.0.0.1:1", "--orchestrator-url", "http://127.0.0.1:1")
	cmd.Env = append(os.Environ(), "CLAUDETTE_RUNNER_TOKEN=x")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitFailed || !strings.Contains(string(out), "--listen") {
		t.Fatalf("exit %d, want 1 naming --listen:\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

func (d *daemon) stderrText() string { return d.stderr.String() }

// syncBuffer is a bytes.Buffer safe for the process's writer and the test's reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
