package main

// Shared machinery of the end-to-end tests (e2e_*_test.go): the real daemon
// binary as a process, the real Docker engine with the demo image (the fake
// claude), a git repository served over smart HTTP, the fake Electric the
// test inserts messages into, and the recording orchestrator.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
	"github.com/claudette-dev/claudette-runner/sync/electrictest"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// testAPIKey is the model credential startDaemon gives the runner.
const testAPIKey = "sk-ant-test-key-do-not-log"

// e2eWait bounds every wait of the suite: generous, so that a loaded CI
// machine slows the tests without failing them.
const e2eWait = 90 * time.Second

// e2e is one end-to-end setting: its servers, its runner id and directories,
// and the daemon currently running on them.
type e2e struct {
	t        *testing.T
	runnerID string
	electric *electrictest.Server
	orch     *orchestratortest.Orchestrator
	git      *gittest.Server
	repo     *gittest.Repo
	data     string // --data-dir, kept across restarts
	wsDir    string // --workspace-dir, kept across restarts
	args     []string
	d        *daemon
	docker   *client.Client
}

// repoFiles is the content of the repository every e2e workspace checks out.
var repoFiles = map[string]string{"README.md": "# e2e fixture\n", "src/main.go": "package main\n\nfunc main() {}\n"}

// newE2E prepares the servers for runner "e2e-<name>" and starts the daemon
// with short settings; extra flags come last and win. Every container of the
// runner is removed when the test ends, after the daemon is gone.
func newE2E(t *testing.T, name string, extra ...string) *e2e {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, runnerID: "e2e-" + name, data: t.TempDir(), wsDir: filepath.Join(t.TempDir(), "ws"), docker: cli}
	// Registered first, so it runs last: after the daemon was killed.
	t.Cleanup(func() {
		e.removeContainers()
		_ = cli.Close()
	})
	e.electric = electrictest.New(t, electrictest.WithLiveHold(2*time.Second), electrictest.WithBearerToken(testToken))
	e.orch = orchestratortest.New(t, orchestratortest.Options{Token: testToken, RunnerID: e.runnerID})
	e.repo = gittest.NewRepo(t, repoFiles)
	e.git = gittest.Serve(t, e.repo)
	e.args = append([]string{
		"--runner-id", e.runnerID,
		"--electric-url", e.electric.URL(),
		"--orchestrator-url", e.orch.URL,
		"--workspace-dir", e.wsDir,
		"--allow-http-repos",
		"--turn-timeout", "2m",
		"--sandbox-stop-grace", "2s",
		"--shutdown-timeout", "20s",
		"--heartbeat-interval", "1s",
		"--sandbox-idle", "0", // a sandbox per turn, as most tests count containers; e2e_warm_test.go keeps them
	}, extra...)
	e.start()
	return e
}

// start runs the daemon (again) on the same data and workspace dirs.
func (e *e2e) start() {
	e.t.Helper()
	e.d = startDaemon(e.t, e.data, e.args...)
}

// kill9 kills the daemon with SIGKILL, leaving its sandboxes running.
func (e *e2e) kill9() {
	e.t.Helper()
	if err := e.d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
	select {
	case <-e.d.done:
	case <-time.After(30 * time.Second):
		e.t.Fatal("daemon did not die after SIGKILL")
	}
}

// repoURL is the http:// URL of the fixture repository.
func (e *e2e) repoURL() string { return e.git.RepoURL(e.repo) }

// insert puts a runner_messages row for this runner into the fake Electric.
func (e *e2e) insert(msgID, workspaceID string, payload []byte) {
	e.t.Helper()
	e.electric.InsertMessage(msgID, e.runnerID, workspaceID, payload)
}

// request builds a JSON-RPC request payload with id reqID.
func request(reqID, method string, params any) []byte {
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": reqID, "method": method, "params": params})
	if err != nil {
		panic(err)
	}
	return b
}

// send inserts a conversation.send of the fixture repository; the message id
// is also the request id.
func (e *e2e) send(msgID, workspaceID, conversationID, prompt string, options map[string]any) {
	e.t.Helper()
	params := map[string]any{"workspaceId": workspaceID, "conversationId": conversationID, "prompt": prompt,
		"repository": map[string]any{"url": e.repoURL(), "ref": gittest.DefaultBranch}}
	if options != nil {
		params["options"] = options
	}
	e.insert(msgID, workspaceID, request(msgID, rpc.MethodConversationSend, params))
}

// call inserts a request of another method and waits for its response.
func (e *e2e) call(msgID, workspaceID, method string, params any) orchestratortest.Item {
	e.t.Helper()
	e.insert(msgID, workspaceID, request(msgID, method, params))
	return e.response(msgID)
}

// response waits for the response to request id.
func (e *e2e) response(id string) orchestratortest.Item {
	e.t.Helper()
	e.orch.WaitFor(e.t, e2eWait, func(items []orchestratortest.Item) bool {
		_, ok := orchestratortest.ResponseOf(items, id)
		return ok
	})
	it, _ := e.orch.Response(id)
	return it
}

// waitState waits until the message reported state.
func (e *e2e) waitState(msgID, state string) {
	e.t.Helper()
	e.orch.WaitFor(e.t, e2eWait, func(items []orchestratortest.Item) bool {
		return slices.Contains(statesOf(orchestratortest.MessageOf(items, msgID)), state)
	})
}

// waitEvent waits until an event of the message contains text.
func (e *e2e) waitEvent(msgID, text string) {
	e.t.Helper()
	e.orch.WaitFor(e.t, e2eWait, func(items []orchestratortest.Item) bool {
		for _, it := range orchestratortest.MessageOf(items, msgID) {
			if it.Event != nil && bytes.Contains(it.Event.Event, []byte(text)) {
				return true
			}
		}
		return false
	})
}

// statesOf lists the states among items, in order.
func statesOf(items []orchestratortest.Item) []string {
	var out []string
	for _, it := range items {
		if it.State != nil {
			out = append(out, it.State.State)
		}
	}
	return out
}

// stateIndex is the position, among every accepted item, of the first
// arrival of a message's state; -1 when it did not arrive.
func stateIndex(items []orchestratortest.Item, msgID, state string) int {
	for i, it := range items {
		if it.State != nil && it.State.MessageID == msgID && it.State.State == state {
			return i
		}
	}
	return -1
}

// result decodes a successful response's result; the test fails on an error response.
func result(t *testing.T, it orchestratortest.Item) sendResult {
	t.Helper()
	if it.Error != nil {
		t.Fatalf("response %s is an error: %d %s (data %v)", it.ID, it.Error.Code, it.Error.Message, it.Error.Data)
	}
	var r sendResult
	if err := json.Unmarshal(it.Result, &r); err != nil {
		t.Fatalf("response %s: result %s: %v", it.ID, it.Result, err)
	}
	return r
}

// sendResult is CONTRACT's conversation.send result.
type sendResult struct {
	ConversationID string          `json:"conversationId"`
	SessionID      string          `json:"sessionId"`
	Status         string          `json:"status"`
	Result         *string         `json:"result"`
	NumTurns       int             `json:"numTurns"`
	DurationMs     int64           `json:"durationMs"`
	TotalCostUSD   float64         `json:"totalCostUsd"`
	Usage          json.RawMessage `json:"usage"`
	ExitCode       int             `json:"exitCode"`
}

// wantError checks that a response is the JSON-RPC error code.
func wantError(t *testing.T, it orchestratortest.Item, code int) *rpc.Error {
	t.Helper()
	if it.Error == nil {
		t.Fatalf("response %s: got result %s, want error %d", it.ID, it.Result, code)
	}
	if it.Error.Code != code {
		t.Fatalf("response %s: got error %d %q, want %d", it.ID, it.Error.Code, it.Error.Message, code)
	}
	return it.Error
}

// eventTypes lists "type" or "type/subtype" of a message's events, in seq order.
func eventTypes(t *testing.T, events []rpc.EventParams) []string {
	t.Helper()
	var out []string
	for _, ev := range events {
		var head struct{ Type, Subtype string }
		if err := json.Unmarshal(ev.Event, &head); err != nil {
			t.Fatalf("event seq %d is not a JSON object: %s", ev.Seq, ev.Event)
		}
		if head.Subtype != "" {
			out = append(out, head.Type+"/"+head.Subtype)
		} else {
			out = append(out, head.Type)
		}
	}
	return out
}

// checkDelivery asserts what the contract promises of one message: seq 1..n
// contiguous in order of first arrival, a duplicate only ever repeats the same
// item, and the response (identical if repeated) comes after the last event.
func (e *e2e) checkDelivery(msgID string) {
	e.t.Helper()
	items := e.orch.Items()
	var mine []orchestratortest.Item
	for _, it := range items {
		if it.MessageID() == msgID {
			mine = append(mine, it)
		}
	}
	if problems := orchestratortest.OrderProblemsOf(mine); len(problems) > 0 {
		e.t.Errorf("message %s: seq problems: %v", msgID, problems)
	}
	first := map[string]string{}
	for _, it := range items {
		key := it.Key()
		if key == "" || (it.MessageID() != msgID && key != "response "+normalizeID(msgID)) {
			continue
		}
		raw := compactJSON(it.Raw)
		if prev, seen := first[key]; seen && prev != raw {
			e.t.Errorf("%s delivered twice with different content:\n%s\n%s", key, prev, raw)
		} else if !seen {
			first[key] = raw
		}
	}
	if err := e.orch.ResponseFollowsEvents(msgID, msgID); err != nil {
		e.t.Error(err)
	}
}

func normalizeID(id string) string {
	b, _ := json.Marshal(id)
	return string(b)
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// containers lists every container of this runner, all states.
func (e *e2e) containers() []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.docker.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "dev.claudette.runner-id="+e.runnerID)})
	if err != nil {
		e.t.Fatalf("list containers: %v", err)
	}
	var out []string
	for _, c := range res.Items {
		out = append(out, fmt.Sprintf("%s (%s, %s)", c.ID[:12], c.State, strings.Join(c.Names, ",")))
	}
	return out
}

// waitNoContainers waits until the runner has no container left.
func (e *e2e) waitNoContainers() {
	e.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		left := e.containers()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("containers left: %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// removeContainers removes every container of the runner (cleanup).
func (e *e2e) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := e.docker.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "dev.claudette.runner-id="+e.runnerID)})
	if err != nil {
		e.t.Errorf("cleanup: list containers: %v", err)
		return
	}
	for _, c := range res.Items {
		// The runner removes a turn's container after its answer: its removal may be under way.
		_, err := e.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		for try := 0; errdefs.IsConflict(err) && try < 50; try++ {
			time.Sleep(100 * time.Millisecond)
			_, err = e.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
		if err != nil && !errdefs.IsNotFound(err) {
			e.t.Errorf("cleanup: remove container %s: %v", c.ID[:12], err)
		}
	}
}

// checkout is the host path of a file in a workspace's checkout.
func (e *e2e) checkout(workspaceID string, rel ...string) string {
	return filepath.Join(append([]string{e.wsDir, workspaceID}, rel...)...)
}

// exists reports whether a path exists.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// waitContainersExited waits until none of the runner's containers runs.
func (e *e2e) waitContainersExited() {
	e.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		running := 0
		for _, c := range e.containers() {
			if strings.Contains(c, "running") {
				running++
			}
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("containers still running: %v", e.containers())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
