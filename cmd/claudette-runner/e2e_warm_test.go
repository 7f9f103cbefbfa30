package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/moby/moby/client"
)

// runningContainer is the id of the runner's one running container.
func (e *e2e) runningContainer() (id, startedAt string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.docker.ContainerList(ctx, client.ContainerListOptions{
		Filters: client.Filters{}.Add("label", "dev.claudette.runner-id="+e.runnerID)})
	if err != nil || len(res.Items) != 1 {
		e.t.Fatalf("running containers: %v (%v)", e.containers(), err)
	}
	in, err := e.docker.ContainerInspect(ctx, res.Items[0].ID, client.ContainerInspectOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return in.Container.ID, in.Container.State.StartedAt
}

// probeOut is the stdout of the sh probes of a message, in order.
func (e *e2e) probeOut(msgID string) []string {
	e.t.Helper()
	var out []string
	for _, ev := range e.orch.Events(msgID) {
		var v struct {
			Type    string
			Message struct {
				Content []struct{ Type, Content string }
			}
		}
		if json.Unmarshal(ev.Event, &v) != nil || v.Type != "user" || len(v.Message.Content) == 0 {
			continue
		}
		var f struct{ Stdout string }
		if json.Unmarshal([]byte(v.Message.Content[0].Content), &f) == nil {
			out = append(out, f.Stdout)
		}
	}
	return out
}

var tokenVar = regexp.MustCompile(`ANTHROPIC_API_KEY=([0-9a-f]{64})`)

// A workspace's second turn runs in the first turn's sandbox (no container
// created or started), with a token of its own: the first turn's is refused;
// nothing the first turn started still runs. A sandbox removed behind the
// runner's back is replaced; workspace.delete removes the kept one.
func TestE2EWarmSandbox(t *testing.T) {
	e := newE2E(t, "warm", "--sandbox-idle", "10m")
	e.send("msg-w1", "ws-w", "conv-w", "PROBE sh setsid sleep 1000 </dev/null >/dev/null 2>&1 &\nPROBE sh env", nil)
	if res := result(t, e.response("msg-w1")); res.Status != rpc.StatusCompleted {
		t.Fatalf("first turn %+v", res)
	}
	id1, started1 := e.runningContainer()
	out := e.probeOut("msg-w1")
	m := tokenVar.FindStringSubmatch(strings.Join(out, "\n"))
	if m == nil {
		t.Fatalf("no turn token in the first turn's environment: %q", out)
	}
	oldToken := m[1]

	probe := "printf 'POST /v1/messages HTTP/1.0\\r\\nx-api-key: %s\\r\\ncontent-type: application/json\\r\\ncontent-length: 2\\r\\n\\r\\n{}' " + oldToken + " | nc 127.0.0.1 4141 | head -1; ps -o pid,args"
	e.send("msg-w2", "ws-w", "conv-w", "PROBE sh "+probe, nil)
	if res := result(t, e.response("msg-w2")); res.Status != rpc.StatusCompleted {
		t.Fatalf("second turn %+v", res)
	}
	e.checkDelivery("msg-w2")
	id2, started2 := e.runningContainer()
	if id2 != id1 || started2 != started1 {
		t.Errorf("second turn in %s started %s, want the first's %s started %s", id2[:12], started2, id1[:12], started1)
	}
	out2 := strings.Join(e.probeOut("msg-w2"), "\n")
	if !strings.Contains(out2, "401") {
		t.Errorf("the first turn's token was not refused in the second turn:\n%s", out2)
	}
	if strings.Contains(out2, "sleep 1000") {
		t.Errorf("the first turn's process still runs in the second:\n%s", out2)
	}

	if _, err := e.docker.ContainerRemove(context.Background(), id1, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	e.send("msg-w3", "ws-w", "conv-w", "PROBE report", nil)
	if res := result(t, e.response("msg-w3")); res.Status != rpc.StatusCompleted {
		t.Fatalf("turn after the sandbox was removed %+v", res)
	}
	if id3, _ := e.runningContainer(); id3 == id1 {
		t.Errorf("turn ran in the removed container")
	}

	del := e.call("del-1", "ws-w", rpc.MethodWorkspaceDelete, map[string]any{"workspaceId": "ws-w"})
	if del.Error != nil {
		t.Fatalf("delete: %+v", del.Error)
	}
	e.waitNoContainers()
}

// kill -9 of the runner during a turn in a warm sandbox: the restarted
// runner re-attaches and loses no line.
func TestE2EWarmKill9Reattach(t *testing.T) {
	e := newE2E(t, "warmkill", "--sandbox-idle", "10m")
	e.send("msg-a", "ws-a", "conv-a", "PROBE report", nil)
	if res := result(t, e.response("msg-a")); res.Status != rpc.StatusCompleted {
		t.Fatalf("first turn %+v", res)
	}
	id1, _ := e.runningContainer()
	e.send("msg-b", "ws-a", "conv-a", "PROBE events 3 200\nPROBE sleep 1s\nPROBE events 5 200\nPROBE sleep 6s\nPROBE events 5 200", nil)
	e.waitEvent("msg-b", `"command":"PROBE sleep 6s"`)
	e.kill9()
	e.start()
	res := result(t, e.response("msg-b"))
	if res.Status != rpc.StatusCompleted || !strings.Contains(deref(res.Result), "Ran 5 probes: 5 ok") {
		t.Errorf("result after restart %+v (%s)", res, deref(res.Result))
	}
	e.checkDelivery("msg-b")
	var tools, results, texts int
	for _, ev := range e.orch.Events("msg-b") {
		s := string(ev.Event)
		switch {
		case strings.Contains(s, `"type":"tool_use"`):
			tools++
		case strings.Contains(s, `"type":"tool_result"`):
			results++
		case strings.Contains(s, `"type":"assistant"`):
			texts++
		}
	}
	if tools != 5 || results != 5 || texts != 14 {
		t.Errorf("got %d tool calls, %d results, %d texts; want 5, 5, 14", tools, results, texts)
	}
	if id2, _ := e.runningContainer(); id2 != id1 {
		t.Errorf("sandbox after the restart: %s, want the warm one %s", id2[:12], id1[:12])
	}
}
