package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

const (
	labelManaged     = "dev.claudette.managed"
	labelRunnerID    = "dev.claudette.runner-id"
	labelWorkspaceID = "dev.claudette.workspace-id"
	labelMessageID   = "dev.claudette.message-id"
	labelProject     = "com.docker.compose.project"
)

// stack is one compose deployment of the runner under test.
type stack struct {
	*compose
	cli      *client.Client
	runnerID string
	ws, data string
}

// TestComposeStack deploys the runner the way the README tells an operator
// to: the image from `make image`, deploy/docker-compose.yml with a .env made
// from deploy/.env.example, plus an override that only lets the container
// reach the test's servers on the host (host-gateway). It sends a
// conversation.send through the fake Electric and checks that the turn runs
// in a sibling sandbox container on the host's engine with the checkout at
// the same host path, that the response reaches the recording orchestrator,
// that `down` leaves no sandbox behind even with a turn running, and that a
// compose file mounting the workspace dir from another host path is refused.
func TestComposeStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli := dockerClient(t)
	composeCmd := findCompose(t)
	image := buildRunnerImage(ctx, t, cli)
	checkRunnerImage(ctx, t, cli, image)
	sandboxImage := demotest.Image(t)

	// The servers on the host, reached from the runner's container through
	// host-gateway: a fake Electric, a recording orchestrator, a git server.
	runnerID := "compose-" + randHex(t, 4)
	token := "compose-token-" + randHex(t, 8)
	electric := electrictest.New(t, electrictest.WithBearerToken(token), electrictest.WithLiveHold(5*time.Second))
	orch := orchestratortest.New(t, orchestratortest.Options{Token: token, RunnerID: runnerID})
	repo := gittest.NewRepo(t, map[string]string{"README.md": "# compose test\n"})
	git := gittest.Serve(t, repo)
	model := newModelUpstream(t)
	gw := hostGatewayIP(ctx, t, cli)
	viaGateway := func(rawURL string) string {
		return fmt.Sprintf("http://host.docker.internal:%d", forward(t, gw, hostPort(t, rawURL)))
	}
	electricURL := viaGateway(electric.URL())
	orchURL := viaGateway(orch.URL) + "/rpc"
	repoURL := viaGateway(git.URL) + "/" + repo.Name
	modelURL := viaGateway(model.srv.URL)

	root := t.TempDir()
	s := &stack{cli: cli, runnerID: runnerID, ws: filepath.Join(root, "workspaces"), data: filepath.Join(root, "data")}
	for _, d := range []string{s.ws, s.data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	override := filepath.Join(root, "compose.test.yml")
	writeFile(t, override, `services:
  runner:
    extra_hosts:
      - "host.docker.internal:host-gateway"
    labels:
      `+demotest.TestLabel+`: "true"
    healthcheck:
      interval: 1s
`)
	envFile := filepath.Join(root, "test.env")
	writeEnvFile(t, envFile, map[string]string{
		"CLAUDETTE_RUNNER_ID":          runnerID,
		"CLAUDETTE_RUNNER_TOKEN":       token,
		"CLAUDETTE_ELECTRICSQL_URL":    electricURL,
		"CLAUDETTE_ORCHESTRATOR_URL":   orchURL,
		"ANTHROPIC_API_KEY":            modelKey,
		"ANTHROPIC_BASE_URL":           modelURL,
		"CLAUDETTE_WORKSPACE_DIR":      s.ws,
		"CLAUDETTE_DATA_DIR":           s.data,
		"CLAUDETTE_RUNNER_IMAGE":       image,
		"CLAUDETTE_PUBLISH":            "127.0.0.1:", // any free port
		"CLAUDETTE_SANDBOX_IMAGE":      sandboxImage,
		"CLAUDETTE_SANDBOX_PULL":       "never",
		"CLAUDETTE_SANDBOX_MEMORY":     "256m",
		"CLAUDETTE_SANDBOX_STOP_GRACE": "2s",
		"CLAUDETTE_ALLOW_HTTP_REPOS":   "true",
		"CLAUDETTE_SHUTDOWN_TIMEOUT":   "10s",
		"CLAUDETTE_STOP_GRACE_PERIOD":  "45s",
	})
	s.compose = &compose{t: t, cmd: composeCmd, project: "claudette-test-" + randHex(t, 4),
		files: []string{"docker-compose.yml", override}, envFile: envFile}
	s.cleanupAfter(t)

	s.must(ctx, "up", "--detach")
	runner := s.runnerContainer(ctx, t)
	s.waitReady(ctx, t, runner)

	// One turn: clone, write into the checkout from the sandbox, call the
	// model through the runner's relay, stay a moment.
	sandboxes := s.watchSandboxes(ctx, t)
	send(t, electric, runnerID, "m-1", "req-1", "ws-compose", "c-1", repoURL,
		"PROBE write /workspace/from-sandbox.txt written in the sandbox\nPROBE model\nPROBE env\nPROBE sleep 2s\nPROBE report")
	sb := s.nextSandbox(ctx, t, sandboxes, "m-1")
	s.checkSibling(ctx, t, sb, runner, "ws-compose", "m-1")
	result := waitResponse(t, orch, "req-1")
	if result.Status != "completed" {
		t.Fatalf("turn status %q, want completed: %s", result.Status, result.Result)
	}
	evs := orch.Events("m-1")
	if len(evs) == 0 {
		t.Fatal("no conversation.event reached the orchestrator")
	}
	// The model relay works with the runner in a container: the upstream got
	// the real key, which the sandbox never saw.
	if got := model.keys(); len(got) == 0 || got[0] != modelKey {
		t.Errorf("the model upstream got keys %q, want the configured key through the relay", got)
	}
	for _, ev := range evs {
		if strings.Contains(string(ev.Event), modelKey) {
			t.Fatalf("the real model key appears in the agent's output (event %d)", ev.Seq)
		}
	}
	checkout := filepath.Join(s.ws, "ws-compose")
	for file, want := range map[string]string{"README.md": "# compose test\n", "from-sandbox.txt": "written in the sandbox"} {
		got, err := os.ReadFile(filepath.Join(checkout, file))
		if err != nil || strings.TrimSpace(string(got)) != strings.TrimSpace(want) {
			t.Errorf("host checkout %s: %q, %v; want %q", file, got, err, want)
		}
	}
	for _, p := range []string{filepath.Join(s.data, "logs", "combined.log"), filepath.Join(s.data, "workspaces", "ws-compose")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the runner's data is not at the host path: %v", err)
		}
	}

	// `down` while a turn runs: the runner stops it within its shutdown
	// timeout, removes the sandbox, and exits cleanly before Docker would kill it.
	send(t, electric, runnerID, "m-2", "req-2", "ws-down", "c-2", repoURL, "PROBE sleep 10m")
	s.nextSandbox(ctx, t, sandboxes, "m-2")
	exits := s.watchRunnerExit(ctx, t)
	s.must(ctx, "down", "--remove-orphans")
	select {
	case code := <-exits:
		if code != "0" {
			t.Errorf("the runner exited with code %s on down, want 0 (a graceful stop)", code)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("no exit of the runner seen within 90s of down")
	}
	if left := s.sandboxContainers(ctx, t); len(left) > 0 {
		t.Fatalf("down left %d sandbox container(s): %v", len(left), left)
	}

	s.checkMismatchRefused(ctx, t, override)
}

// checkRunnerImage checks what `make image` promises: labels, the binary as
// entrypoint with its health check, nothing but the prepared files.
func checkRunnerImage(ctx context.Context, t *testing.T, cli *client.Client, ref string) {
	t.Helper()
	res, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	for k, want := range map[string]string{"org.opencontainers.image.version": "compose-test", demotest.TestLabel: "true"} {
		if got := cfg.Labels[k]; got != want {
			t.Errorf("image label %s = %q, want %q", k, got, want)
		}
	}
	if len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != "/usr/local/bin/claudette-runner" {
		t.Errorf("entrypoint %q", cfg.Entrypoint)
	}
	if cfg.Healthcheck == nil || !slices.Contains(cfg.Healthcheck.Test, "healthcheck") {
		t.Errorf("health check %+v", cfg.Healthcheck)
	}
	if n := len(res.RootFS.Layers); n != 2 {
		t.Errorf("%d layers, want 2 (the prepared files and the binary)", n)
	}
	t.Logf("runner image %s: %.1f MB", ref, float64(res.Size)/1e6)
}

// checkMismatchRefused brings up the same stack with the workspace dir
// mounted from another host path and expects the runner to refuse to start,
// saying how to fix the compose file, without starting any sandbox.
func (s *stack) checkMismatchRefused(ctx context.Context, t *testing.T, override string) {
	elsewhere := t.TempDir()
	bad := filepath.Join(filepath.Dir(override), "compose.mismatch.yml")
	writeFile(t, bad, fmt.Sprintf("services:\n  runner:\n    volumes:\n      - %s:%s\n", elsewhere, s.ws))
	mis := &stack{cli: s.cli, runnerID: s.runnerID, ws: s.ws, data: s.data, compose: &compose{t: t, cmd: s.cmd,
		project: s.project + "-mismatch", files: append(append([]string(nil), s.files...), bad), envFile: s.envFile}}
	mis.cleanupAfter(t)
	exits := mis.watchRunnerExit(ctx, t)
	mis.must(ctx, "up", "--detach")
	select {
	case code := <-exits:
		if code != "1" {
			t.Errorf("the refused runner exited with code %s, want 1", code)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the runner with a mismatched mount did not exit within 90s")
	}
	var logs string
	waitUntil(ctx, t, "the runner refusing the mismatched mount", func() (bool, error) {
		out, err := mis.run(ctx, "logs", "--no-color", "runner")
		logs = out
		return strings.Contains(out, "fix the runner's volumes in the compose file"), err
	}, func() string { return logs })
	for _, want := range []string{
		"docker-out-of-docker",
		"workspace dir " + s.ws + " (--workspace-dir/CLAUDETTE_WORKSPACE_DIR) is under a bind mount of host path " + elsewhere,
		"- " + s.ws + ":" + s.ws,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, logs)
		}
	}
	if left := s.sandboxContainers(ctx, t); len(left) > 0 {
		t.Fatalf("a refused runner started %d sandbox container(s)", len(left))
	}
	mis.must(ctx, "down", "--remove-orphans")
}

// cleanupAfter takes the project down at the end whatever happened, and
// removes anything of it or of the runner the engine still holds.
func (s *stack) cleanupAfter(t *testing.T) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := s.run(ctx, "logs", "--no-color", "--tail", "60")
			t.Logf("runner logs of %s:\n%s", s.project, out)
		}
		if out, err := s.run(ctx, "down", "--remove-orphans", "--volumes", "--timeout", "20"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
		for _, f := range []client.Filters{
			make(client.Filters).Add("label", labelProject+"="+s.project),
			make(client.Filters).Add("label", labelRunnerID+"="+s.runnerID),
		} {
			res, err := s.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
			if err != nil {
				t.Errorf("list containers: %v", err)
				continue
			}
			for _, c := range res.Items {
				if _, err := s.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
					t.Errorf("remove container %s: %v", c.ID, err)
				}
			}
		}
		nets, err := s.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", labelProject+"="+s.project)})
		if err == nil {
			for _, n := range nets.Items {
				if _, err := s.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
					t.Errorf("remove network %s: %v", n.Name, err)
				}
			}
		}
	})
}

// runnerContainer is the id of the project's runner container.
func (s *stack) runnerContainer(ctx context.Context, t *testing.T) string {
	t.Helper()
	res, err := s.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", labelProject+"="+s.project, "com.docker.compose.service=runner")})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("the runner container of %s: %v (%d found)", s.project, err, len(res.Items))
	}
	return res.Items[0].ID
}

// waitReady waits for the container's health check (the image's healthcheck
// subcommand) to pass and for /readyz, published on the host, to say ready:
// the runner in its container reaches Electric, the orchestrator and the engine.
func (s *stack) waitReady(ctx context.Context, t *testing.T, runner string) {
	t.Helper()
	var status string
	waitUntil(ctx, t, "the runner container healthy", func() (bool, error) {
		res, err := s.cli.ContainerInspect(ctx, runner, client.ContainerInspectOptions{})
		if err != nil {
			return false, err
		}
		if h := res.Container.State.Health; h != nil {
			status = string(h.Status)
		}
		return status == string(container.Healthy), nil
	}, func() string { return "health: " + status })
	port := strings.TrimSpace(s.must(ctx, "port", "runner", "9464"))
	var body string
	waitUntil(ctx, t, "/readyz on the published port "+port, func() (bool, error) {
		resp, err := http.Get("http://" + port + "/readyz")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, resp.Status, " ")
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		body = b.String() + string(buf[:n])
		return resp.StatusCode == http.StatusOK, nil
	}, func() string { return body })
}

// watchSandboxes reports the start of every container of this runner.
func (s *stack) watchSandboxes(ctx context.Context, t *testing.T) <-chan events.Message {
	t.Helper()
	ectx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	res := s.cli.Events(ectx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", "container").Add("event", "start").Add("label", labelRunnerID+"="+s.runnerID)})
	out := make(chan events.Message, 16)
	go func() {
		for {
			select {
			case m := <-res.Messages:
				out <- m
			case <-res.Err:
				return
			case <-ectx.Done():
				return
			}
		}
	}()
	return out
}

// nextSandbox waits for the start of the sandbox of a message.
func (s *stack) nextSandbox(ctx context.Context, t *testing.T, started <-chan events.Message, messageID string) string {
	t.Helper()
	for {
		select {
		case m := <-started:
			if m.Actor.Attributes[labelMessageID] == messageID {
				return m.Actor.ID
			}
		case <-ctx.Done():
			t.Fatalf("no sandbox started for message %s", messageID)
		}
	}
}

// checkSibling checks that the sandbox is a container of the host's engine
// next to the runner's, labelled per the contract, with the checkout bound
// from the same host path the runner wrote it to, and without the socket.
func (s *stack) checkSibling(ctx context.Context, t *testing.T, id, runner, workspaceID, messageID string) {
	t.Helper()
	res, err := s.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect the sandbox on the host's engine: %v", err)
	}
	c := res.Container
	if c.ID == runner {
		t.Fatal("the sandbox is the runner's own container")
	}
	for k, want := range map[string]string{labelManaged: "true", labelRunnerID: s.runnerID, labelWorkspaceID: workspaceID, labelMessageID: messageID} {
		if got := c.Config.Labels[k]; got != want {
			t.Errorf("sandbox label %s = %q, want %q", k, got, want)
		}
	}
	if c.Config.Labels[labelProject] != "" {
		t.Error("the sandbox belongs to the compose project; it must be the runner's own container")
	}
	var found bool
	for _, m := range c.Mounts {
		if m.Destination == "/workspace" {
			found = true
			if m.Type != mount.TypeBind || m.Source != filepath.Join(s.ws, workspaceID) {
				t.Errorf("the checkout is mounted from %s %s, want the host path %s", m.Type, m.Source, filepath.Join(s.ws, workspaceID))
			}
		}
		if strings.HasSuffix(m.Source, "docker.sock") {
			t.Errorf("the sandbox has the Docker socket mounted at %s", m.Destination)
		}
	}
	if !found {
		t.Errorf("the sandbox has no /workspace mount: %+v", c.Mounts)
	}
}

// watchRunnerExit reports the exit code of the runner's container when it dies.
func (s *stack) watchRunnerExit(ctx context.Context, t *testing.T) <-chan string {
	t.Helper()
	ectx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	res := s.cli.Events(ectx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", "container").Add("event", "die").Add("label", labelProject+"="+s.project)})
	out := make(chan string, 1)
	go func() {
		select {
		case m := <-res.Messages:
			out <- m.Actor.Attributes["exitCode"]
		case <-res.Err:
		case <-ectx.Done():
		}
	}()
	return out
}

// sandboxContainers lists every container of the runner, running or not.
func (s *stack) sandboxContainers(ctx context.Context, t *testing.T) []string {
	t.Helper()
	res, err := s.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", labelRunnerID+"="+s.runnerID)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Items {
		names = append(names, strings.Join(c.Names, ",")+" ("+string(c.State)+")")
	}
	return names
}

// send inserts a conversation.send for the runner into the fake Electric.
func send(t *testing.T, e *electrictest.Server, runnerID, messageID, requestID, workspaceID, conversationID, repoURL, prompt string) {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": requestID, "method": "conversation.send",
		"params": map[string]any{"workspaceId": workspaceID, "conversationId": conversationID, "prompt": prompt,
			"repository": map[string]any{"url": repoURL}}})
	if err != nil {
		t.Fatal(err)
	}
	e.InsertMessage(messageID, runnerID, workspaceID, payload)
}

// modelKey is the "real" model credential of the test: only the upstream may see it.
const modelKey = "sk-ant-compose-test-not-a-real-key"

// modelUpstream is a recording stand-in for the model API: it answers a
// streamed message with a short SSE stream and remembers the keys it got.
type modelUpstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string
}

func newModelUpstream(t *testing.T) *modelUpstream {
	u := &modelUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Header.Get("x-api-key"))
		u.mu.Unlock()
		w.Header().Set("content-type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *modelUpstream) keys() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.got...)
}

type sendResult struct {
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
}

// waitResponse waits for the response to a request and decodes its result.
func waitResponse(t *testing.T, o *orchestratortest.Orchestrator, requestID string) sendResult {
	t.Helper()
	o.WaitFor(t, 2*time.Minute, func([]orchestratortest.Item) bool { _, ok := o.Response(requestID); return ok })
	it, _ := o.Response(requestID)
	if it.Error != nil {
		t.Fatalf("response to %s is an error: %+v", requestID, *it.Error)
	}
	var r sendResult
	if err := json.Unmarshal(it.Result, &r); err != nil {
		t.Fatalf("response to %s: %v: %s", requestID, err, it.Result)
	}
	return r
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSandboxImageSaysWhatToDo: without its base image and no way to pull
// it, `make sandbox-image` fails at once and says what to do instead.
func TestSandboxImageSaysWhatToDo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	missing := "claudette-test/no-such-base-" + randHex(t, 4) + ":none"
	cmd := exec.CommandContext(ctx, "make", "-C", repoRoot, "--no-print-directory", "sandbox-image",
		"NODE_IMAGE="+missing, "SANDBOX_IMAGE=claudette-test/never-built:"+randHex(t, 4))
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make sandbox-image succeeded without its base image:\n%s", out)
	}
	for _, want := range []string{missing + " is not here and cannot be pulled", "docker load", "--sandbox-pull never", "make demo-image"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the failure does not say %q:\n%s", want, out)
		}
	}
}
