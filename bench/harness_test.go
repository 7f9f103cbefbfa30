package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
	"github.com/moby/moby/client"
)

// token is the runner's bearer token for Electric and the orchestrator.
const token = "bench-runner-token"

// wait bounds every wait of the suite: generous, for a loaded machine.
const wait = 5 * time.Minute

// env is one scenario's world: the fake Electric, the recording
// orchestrator, a git server with a small repository, and the directories of
// the daemon it starts.
type env struct {
	tb       testing.TB
	runnerID string
	electric *electrictest.Server
	orch     *Orchestrator
	git      *gittest.Server
	repo     *gittest.Repo
	data     string
	wsDir    string
	docker   *client.Client
}

// newEnv prepares the servers of runner "bench-<name>-<pid>"; Electric holds live
// requests for hold, as the real one does for 20 s.
func newEnv(tb testing.TB, name string, hold time.Duration) *env {
	tb.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		tb.Fatal(err)
	}
	// The process id keeps two runs of the suite on one engine apart: a runner
	// takes the containers of its runner id as its own.
	e := &env{tb: tb, runnerID: fmt.Sprintf("bench-%s-%d", name, os.Getpid()), data: tb.TempDir(), wsDir: filepath.Join(tb.TempDir(), "ws"), docker: cli}
	tb.Cleanup(func() { // registered first, so it runs after the daemon stopped
		e.removeContainers()
		_ = cli.Close()
	})
	e.electric = electrictest.New(tb, electrictest.WithLiveHold(hold), electrictest.WithBearerToken(token))
	e.orch = NewOrchestrator(token)
	tb.Cleanup(e.orch.Close)
	e.repo = gittest.NewRepo(tb, map[string]string{"README.md": "# bench fixture\n", "src/main.go": "package main\n\nfunc main() {}\n"})
	e.git = gittest.Serve(tb, e.repo)
	return e
}

// daemon is the runner binary running `start` as a child process.
type daemon struct {
	cmd  *exec.Cmd
	addr string
	log  *tailBuffer
	done chan struct{}
}

// start runs the daemon with the scenario's servers and dirs; extra flags
// come last and win. dockerHost, when not empty, replaces DOCKER_HOST.
func (e *env) start(dockerHost string, extra ...string) *daemon {
	tb := e.tb
	tb.Helper()
	d := &daemon{addr: freeAddr(tb), log: &tailBuffer{max: 1 << 20}, done: make(chan struct{})}
	args := append([]string{"start",
		"--runner-id", e.runnerID,
		"--data-dir", e.data,
		"--workspace-dir", e.wsDir,
		"--listen", d.addr,
		"--electric-url", e.electric.URL(),
		"--orchestrator-url", e.orch.URL,
		"--allow-http-repos",
		"--sandbox-image", image(tb),
		"--shutdown-timeout", "30s",
	}, extra...)
	d.cmd = exec.Command(runnerBinary(tb), args...)
	d.cmd.Env = daemonEnv(dockerHost)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	tb.Cleanup(func() { d.stop(tb) })
	d.waitReady(tb)
	return d
}

// daemonEnv is the environment without anything that would change the
// runner's behaviour (its own settings, proxies), plus its secrets.
func daemonEnv(dockerHost string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch u := strings.ToUpper(k); {
		case strings.HasPrefix(u, "CLAUDETTE_"), strings.HasPrefix(u, "ANTHROPIC_"), u == "DEBUG",
			u == "HTTP_PROXY", u == "HTTPS_PROXY", u == "NO_PROXY", u == "ALL_PROXY",
			u == "DOCKER_HOST" && dockerHost != "":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "CLAUDETTE_RUNNER_TOKEN="+token, "ANTHROPIC_API_KEY=sk-ant-bench-not-a-key")
	if dockerHost != "" {
		env = append(env, "DOCKER_HOST="+dockerHost)
	}
	return env
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// waitReady waits for /readyz: the engine probed, Electric live, the orchestrator reachable.
func (d *daemon) waitReady(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if code, _, err := d.get("/readyz"); err == nil && code == http.StatusOK {
			return
		}
		select {
		case <-d.done:
			tb.Fatalf("the runner exited early:\n%s", d.log)
		default:
		}
		if time.Now().After(deadline) {
			_, body, _ := d.get("/readyz")
			tb.Fatalf("the runner is not ready after 2m: %s\n%s", body, d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) get(path string) (int, string, error) {
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// stop sends SIGTERM and waits; it kills after a minute.
func (d *daemon) stop(tb testing.TB) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		_ = d.cmd.Process.Kill()
		<-d.done
		tb.Errorf("the runner did not stop within a minute of SIGTERM:\n%s", d.log)
	}
}

// proc reads the daemon's /proc figures.
func (d *daemon) proc(tb testing.TB) Proc {
	tb.Helper()
	p, err := ReadProc(d.pid())
	if err != nil {
		tb.Fatalf("read /proc of the runner: %v", err)
	}
	return p
}

// histogram reads the sum and count of a histogram series from /metrics,
// e.g. histogram("claudette_workspace_prepare_duration_seconds", `checkout="existing"`).
func (d *daemon) histogram(tb testing.TB, name, labels string) (sum float64, count float64) {
	tb.Helper()
	code, body, err := d.get("/metrics")
	if err != nil || code != http.StatusOK {
		tb.Fatalf("/metrics: %d %v", code, err)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for suffix, dst := range map[string]*float64{"_sum": &sum, "_count": &count} {
			prefix := name + suffix + "{" + labels + "} "
			if labels == "" {
				prefix = name + suffix + " "
			}
			if v, ok := strings.CutPrefix(line, prefix); ok {
				*dst, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
	}
	return sum, count
}

// send inserts a conversation.send of the fixture repository into Electric
// and returns when it did; the message id is also the request id.
func (e *env) send(msgID, workspaceID, conversationID, prompt string) time.Time {
	params := map[string]any{"workspaceId": workspaceID, "conversationId": conversationID, "prompt": prompt,
		"repository": map[string]any{"url": e.git.RepoURL(e.repo), "ref": gittest.DefaultBranch}}
	payload, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": msgID, "method": rpc.MethodConversationSend, "params": params})
	if err != nil {
		e.tb.Fatal(err)
	}
	image(e.tb) // still there (made again if another process removed it), before the clock starts
	t0 := time.Now()
	e.electric.InsertMessage(msgID, e.runnerID, workspaceID, payload)
	return t0
}

// turn sends a message and waits for its completed response.
func (e *env) turn(d *daemon, msgID, workspaceID, conversationID, prompt string) (time.Time, Response) {
	e.tb.Helper()
	t0 := e.send(msgID, workspaceID, conversationID, prompt)
	return t0, e.completed(d, msgID)
}

// completed waits for the response to msgID and fails unless the turn completed.
func (e *env) completed(d *daemon, msgID string) Response {
	e.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := e.orch.WaitResponse(ctx, msgID)
	if err != nil {
		e.tb.Fatalf("%v\n%s", err, d.log)
	}
	if resp.Error != nil || resp.Status() != "completed" {
		e.tb.Fatalf("turn %s: %+v %s\n%s", msgID, resp.Error, resp.Result, d.log)
	}
	return resp
}

// firstEvent is when the first conversation.event of a message arrived.
func (e *env) firstEvent(msgID string) time.Time {
	e.tb.Helper()
	m, ok := e.orch.Message(msgID)
	if !ok || m.Events == 0 {
		e.tb.Fatalf("message %s: no event arrived", msgID)
	}
	if m.Gaps > 0 {
		e.tb.Fatalf("message %s: %d seq gaps", msgID, m.Gaps)
	}
	return m.FirstEvent
}

// removeContainers removes every container of the runner (cleanup).
func (e *env) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := e.docker.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "dev.claudette.runner-id="+e.runnerID)})
	if err != nil {
		e.tb.Errorf("cleanup: list containers: %v", err)
		return
	}
	for _, c := range res.Items {
		if _, err := e.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			e.tb.Errorf("cleanup: remove container %s: %v", c.ID[:12], err)
		}
	}
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tailBuffer keeps the last max bytes written to it (the daemon's log).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return string(b)
}

// logf prints the progress of a long scenario on stderr, at once.
func logf(tb testing.TB, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", time.Now().Format("15:04:05"), tb.Name(), fmt.Sprintf(format, args...))
}

// removeSandboxes removes a workspace's sandbox containers behind the
// runner's back (its next turn then starts a new one).
func (e *env) removeSandboxes(workspaceID string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return
	}
	defer cli.Close()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "dev.claudette.workspace-id="+workspaceID)})
	if err != nil {
		return
	}
	for _, c := range res.Items {
		_, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
	}
}
