package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// A message yields ordered events and a successful response after its last
// event; the file the agent wrote is in the checkout on the host.
func TestE2EMessageYieldsEventsAndResponse(t *testing.T) {
	e := newE2E(t, "turn")
	e.send("msg-1", "ws-1", "conv-1", "Write a note.\nPROBE write notes/hello.txt hello from the sandbox\nPROBE env", map[string]any{"maxTurns": 5})
	res := result(t, e.response("msg-1"))

	if res.Status != rpc.StatusCompleted || res.ConversationID != "conv-1" || res.SessionID == "" || res.ExitCode != 0 ||
		res.NumTurns < 1 || res.Result == nil || !strings.Contains(*res.Result, "Ran 2 probes: 2 ok") || len(res.Usage) == 0 || string(res.Usage) == "null" {
		t.Errorf("result = %+v (result %v)", res, deref(res.Result))
	}
	e.checkDelivery("msg-1")

	items := e.orch.Message("msg-1")
	if got, want := statesOf(items), []string{rpc.StateQueued, rpc.StatePreparing, rpc.StateRunning, rpc.StateFinished}; !slices.Equal(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
	// Every event sits between running and finished, and relays the agent's line.
	running, finished := -1, -1
	for i, it := range items {
		if it.Seq() != int64(i+1) {
			t.Errorf("item %d has seq %d", i, it.Seq())
		}
		if it.State != nil && it.State.State == rpc.StateRunning {
			running = i
		}
		if it.State != nil && it.State.State == rpc.StateFinished {
			finished = i
		}
		if it.Event != nil && (running < 0 || finished >= 0) {
			t.Errorf("event seq %d outside running..finished", it.Seq())
		}
	}
	types := eventTypes(t, e.orch.Events("msg-1"))
	if len(types) < 4 || types[0] != "system/init" || types[len(types)-1] != "result/success" ||
		!slices.Contains(types, "assistant") || !slices.Contains(types, "user") {
		t.Errorf("event types = %v", types)
	}
	for _, ev := range e.orch.Events("msg-1") {
		if ev.WorkspaceID != "ws-1" || ev.ConversationID != "conv-1" {
			t.Errorf("event seq %d names %s/%s", ev.Seq, ev.WorkspaceID, ev.ConversationID)
		}
	}

	// The agent's environment: its state dir and the quiet switches, and no
	// secret of the runner anywhere in what was relayed.
	var env map[string]string
	for _, ev := range e.orch.Events("msg-1") {
		var line struct {
			Type    string
			Message struct {
				Content []struct {
					Type    string
					Content string
				}
			}
		}
		if json.Unmarshal(ev.Event, &line) == nil && line.Type == "user" {
			for _, c := range line.Message.Content {
				var f struct{ Env map[string]string }
				if c.Type == "tool_result" && json.Unmarshal([]byte(c.Content), &f) == nil && f.Env != nil {
					env = f.Env
				}
			}
		}
		for _, secret := range []string{testToken, testAPIKey} {
			if strings.Contains(string(ev.Event), secret) {
				t.Errorf("event seq %d carries a runner secret", ev.Seq)
			}
		}
	}
	for k, v := range map[string]string{"CLAUDE_CONFIG_DIR": "/claude-state", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
		"DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "DISABLE_AUTOUPDATER": "1"} {
		if env[k] != v {
			t.Errorf("agent env %s = %q, want %q (env %v)", k, env[k], v, env)
		}
	}

	// The agent wrote into the checkout, a clone of the repository.
	got, err := os.ReadFile(e.checkout("ws-1", "notes", "hello.txt"))
	if err != nil || string(got) != "hello from the sandbox" {
		t.Errorf("notes/hello.txt = %q, %v", got, err)
	}
	if readme, err := os.ReadFile(e.checkout("ws-1", "README.md")); err != nil || string(readme) != repoFiles["README.md"] {
		t.Errorf("README.md = %q, %v", readme, err)
	}
	e.waitNoContainers()
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
