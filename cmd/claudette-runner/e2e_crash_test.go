package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/crashpoint"
	"github.com/claudette-dev/claudette-runner/modules/logging"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

// The crash test: the real daemon is killed with SIGKILL at each named
// persistence point (modules/crashpoint, enabled by the environment) and at
// random instants, with turns, cancels, pings, deletions and invalid rows in
// flight, then started again. Every message must end with exactly one answer
// (identical repeats are the contract's at-least-once), the right one, with
// seq contiguous from 1 and no turn run twice.

// crashWork is what one round asked and how to judge the answers.
type crashWork struct {
	sends   map[string]string // message id -> the prompt's marker
	slow    map[string]bool   // sends that run long enough to be cancelled
	cancels map[string]string // cancel message id -> the slow send it targets
	others  map[string]string // message id -> method (ping, delete, invalid)
}

func newCrashWork() *crashWork {
	return &crashWork{sends: map[string]string{}, slow: map[string]bool{}, cancels: map[string]string{}, others: map[string]string{}}
}

// crashTally counts what went wrong, across the whole test.
type crashTally struct {
	messages, lost, repeated, wrong int
	problems                        []string
}

func (c *crashTally) fail(kind *int, format string, args ...any) {
	*kind++
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// startWith runs the daemon with extra environment; unlike e.start it does
// not fail when the daemon dies before it is up (a crash point may be hit at
// once).
func (e *e2e) startWith(env ...string) {
	e.t.Helper()
	d := &daemon{addr: freeAddr(e.t), data: e.data, stderr: &syncBuffer{}, done: make(chan error, 1)}
	all := append([]string{"start", "--data-dir", e.data, "--workspace-dir", filepath.Join(e.t.TempDir(), "ws"),
		"--listen", d.addr, "--shutdown-timeout", "20s", "--sandbox-image", demotest.Image(e.t), "--runner-id", "test-cli",
		"--electric-url", "http://127.0.0.1:1", "--orchestrator-url", "http://127.0.0.1:1/rpc"}, e.args...)
	d.cmd = exec.Command(binary, all...)
	d.cmd.Env = append(append(os.Environ(), "CLAUDETTE_RUNNER_TOKEN="+testToken, "ANTHROPIC_API_KEY="+testAPIKey), env...)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	e.t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	e.d = d
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if e.dead() {
			return
		}
		if strings.Contains(d.stderrText(), "runner started") {
			if res, err := http.Get("http://" + d.addr + "/healthz"); err == nil {
				res.Body.Close()
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("daemon not up:\n%s", d.stderrText())
}

// dead reports whether the current daemon process has exited (and reaps it).
func (e *e2e) dead() bool {
	if e.d.cmd.ProcessState != nil {
		return true
	}
	select {
	case err := <-e.d.done:
		e.d.done <- err // keep it for kill9 and cleanup
		return true
	default:
		return false
	}
}

// killNow kills the current daemon with SIGKILL unless it is already dead.
func (e *e2e) killNow() {
	e.t.Helper()
	if !e.dead() {
		_ = e.d.cmd.Process.Signal(syscall.SIGKILL)
	}
	select {
	case err := <-e.d.done:
		e.d.done <- err
	case <-time.After(30 * time.Second):
		e.t.Fatal("daemon did not die after SIGKILL")
	}
}

// waitDeath waits for the daemon to kill itself at its crash point.
func (e *e2e) waitDeath(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if e.dead() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// issue inserts one round's messages: quick turns, a slow turn (cancelled
// once it runs when cancel is set), a ping, an invalid request and, now and
// then, a workspace deletion.
func (e *e2e) issue(w *crashWork, round string, quick int, slowToo, cancel, del bool) {
	const ws, wss = "ws-q", "ws-s"
	for i := range quick {
		id := fmt.Sprintf("send-%s-%d", round, i)
		marker := fmt.Sprintf("crash-%s-%d-%x", round, i, rand.Uint32())
		w.sends[id] = marker
		e.send(id, ws, "conv-"+round, "say "+marker, nil)
	}
	slow := "slow-" + round
	if slowToo {
		w.sends[slow], w.slow[slow] = "", true
		e.send(slow, wss, "conv-s"+round, "PROBE sleep 1500ms\nPROBE events 3 20", nil)
	}
	ping := "ping-" + round
	w.others[ping] = rpc.MethodRunnerPing
	e.insert(ping, ws, request(ping, rpc.MethodRunnerPing, map[string]any{}))
	bad := "bad-" + round
	w.others[bad] = "invalid"
	e.insert(bad, ws, []byte(`{"jsonrpc":"2.0","id":"`+bad+`","params":{}}`))
	if del {
		d := "del-" + round
		w.others[d] = rpc.MethodWorkspaceDelete
		e.insert(d, "wsd-"+round, request(d, rpc.MethodWorkspaceDelete, map[string]any{"workspaceId": "wsd-" + round}))
	}
	if !cancel || !slowToo {
		return
	}
	// The cancel goes in once the slow turn runs, or not at all when the
	// daemon died first.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !e.dead() {
		running := false
		for _, it := range e.orch.Message(slow) {
			if it.State != nil && it.State.State == rpc.StateRunning {
				running = true
			}
		}
		if running {
			c := "cancel-" + round
			w.cancels[c] = slow
			e.insert(c, wss, request(c, rpc.MethodConversationCancel, map[string]any{"workspaceId": wss, "conversationId": "conv-s" + round}))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until every message of w has its response.
func (e *e2e) settleWork(w *crashWork) {
	e.t.Helper()
	ids := []string{}
	for id := range w.sends {
		ids = append(ids, id)
	}
	for id := range w.cancels {
		ids = append(ids, id)
	}
	for id := range w.others {
		ids = append(ids, id)
	}
	deadline := time.Now().Add(e2eWait)
	for {
		missing := []string{}
		items := e.orch.Items()
		for _, id := range ids {
			if _, ok := orchestratortest.ResponseOf(items, id); !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return
		}
		if e.dead() {
			e.t.Fatalf("daemon died while settling:\n%s", e.d.stderrText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// judge counts lost, repeated and wrong answers of w.
func (e *e2e) judge(w *crashWork, tally *crashTally) {
	items := e.orch.Items()
	responses := map[string]map[string]bool{} // id -> distinct contents
	for _, it := range items {
		if it.IsResponse() {
			var id string
			if json.Unmarshal(it.ID, &id) == nil {
				if responses[id] == nil {
					responses[id] = map[string]bool{}
				}
				responses[id][compactJSON(it.Raw)] = true
			}
		}
	}
	answer := func(id string) (orchestratortest.Item, bool) {
		tally.messages++
		if len(responses[id]) == 0 {
			tally.fail(&tally.lost, "%s: no answer", id)
			return orchestratortest.Item{}, false
		}
		if len(responses[id]) > 1 {
			tally.fail(&tally.repeated, "%s: answered %d different ways: %v", id, len(responses[id]), responses[id])
		}
		it, _ := orchestratortest.ResponseOf(items, id)
		return it, true
	}
	cancelled := map[string]bool{}
	for id, target := range w.cancels {
		it, ok := answer(id)
		if !ok {
			continue
		}
		var r struct{ Cancelled *bool }
		if it.Error != nil || json.Unmarshal(it.Result, &r) != nil || r.Cancelled == nil {
			tally.fail(&tally.wrong, "%s: cancel answered %s %v", id, it.Result, it.Error)
			continue
		}
		cancelled[target] = *r.Cancelled
	}
	for id, marker := range w.sends {
		it, ok := answer(id)
		if !ok {
			continue
		}
		e.checkSeqs(id, tally)
		switch {
		case cancelled[id]:
			if it.Error == nil || it.Error.Code != rpc.CodeCancelled {
				tally.fail(&tally.wrong, "%s: cancel answered true, turn answered %s %v", id, it.Result, it.Error)
			}
		case it.Error != nil && it.Error.Code == rpc.CodeCancelled && w.slow[id]:
			// a cancel the answer of which was not {"cancelled":true} may still have stopped it
		case it.Error != nil:
			tally.fail(&tally.wrong, "%s: error %d %s", id, it.Error.Code, it.Error.Message)
		default:
			var r sendResult
			_ = json.Unmarshal(it.Result, &r)
			want := "Mock reply: say " + marker
			if w.slow[id] {
				want = "Ran 2 probes: 2 ok"
			}
			if r.Status != rpc.StatusCompleted || r.Result == nil || !strings.HasPrefix(*r.Result, want) {
				tally.fail(&tally.wrong, "%s: result %s, want %q", id, it.Result, want)
			}
		}
	}
	for id, method := range w.others {
		it, ok := answer(id)
		if !ok {
			continue
		}
		switch method {
		case rpc.MethodRunnerPing:
			if it.Error != nil || !strings.Contains(string(it.Result), `"runnerId"`) {
				tally.fail(&tally.wrong, "%s: ping answered %s %v", id, it.Result, it.Error)
			}
		case rpc.MethodWorkspaceDelete:
			if it.Error != nil || !strings.Contains(string(it.Result), `"deleted":true`) {
				tally.fail(&tally.wrong, "%s: delete answered %s %v", id, it.Result, it.Error)
			}
		default:
			if it.Error == nil || it.Error.Code != rpc.CodeInvalidRequest {
				tally.fail(&tally.wrong, "%s: invalid request answered %s %v", id, it.Result, it.Error)
			}
		}
	}
}

// checkSeqs: seq 1..n contiguous, a repeat only of the same item, the
// response after the last event, and the agent's result line once (a turn
// run twice shows two).
func (e *e2e) checkSeqs(msgID string, tally *crashTally) {
	var mine []orchestratortest.Item
	first := map[string]string{}
	for _, it := range e.orch.Items() {
		if it.MessageID() != msgID {
			continue
		}
		mine = append(mine, it)
		raw := compactJSON(it.Raw)
		if prev, seen := first[it.Key()]; seen && prev != raw {
			tally.fail(&tally.repeated, "%s: %s delivered with different content:\n%s\n%s", msgID, it.Key(), prev, raw)
		} else if !seen {
			first[it.Key()] = raw
		}
	}
	if problems := orchestratortest.OrderProblemsOf(mine); len(problems) > 0 {
		tally.fail(&tally.lost, "%s: seq problems %v", msgID, problems)
	}
	results := map[int64]bool{}
	for _, ev := range e.orch.Events(msgID) {
		if strings.Contains(string(ev.Event), `"type":"result"`) {
			results[ev.Seq] = true
		}
	}
	if len(results) > 1 {
		tally.fail(&tally.repeated, "%s: the agent ran %d times", msgID, len(results))
	}
	// The first response follows the first arrival of every item (a
	// duplicate sent again after a restart may come later).
	seen, resp := map[string]bool{}, false
	want := normalizeID(msgID)
	for _, it := range e.orch.Items() {
		switch {
		case it.IsResponse() && string(it.ID) == want:
			resp = true
		case it.MessageID() == msgID && !seen[it.Key()]:
			seen[it.Key()] = true
			if resp {
				tally.fail(&tally.wrong, "%s: %s first arrived after the response", msgID, it.Key())
			}
		}
	}
}

// The daemon dies at each persistence point in turn (the point's own hit
// count when it is not the first), with a round of work in flight; the next
// start must answer everything exactly once.
func TestE2ECrashAtEveryPersistencePoint(t *testing.T) {
	e := newE2E(t, "crashpt", warmSandboxes...)
	points := []string{
		crashpoint.IntakeCommitted, crashpoint.HandlerAnswered, crashpoint.TurnRecorded,
		crashpoint.StateReserved, crashpoint.StateReserved + "@2", crashpoint.PromptWritten, crashpoint.SandboxStarted,
		crashpoint.LinesReserved, crashpoint.SandboxEnded, crashpoint.AnswerRecorded, crashpoint.AnswerSent,
		crashpoint.ContainerRemoved, crashpoint.CancelRecorded, crashpoint.BatchDelivered,
	}
	tally := &crashTally{}
	for n, point := range points {
		began := time.Now()
		e.killNow()
		w := newCrashWork()
		e.startWith(crashpoint.EnvVar + "=" + point)
		up := time.Since(began)
		// Issued also when the point was hit during the start (recovering
		// what the last kill left): the next start takes it.
		slow := point == crashpoint.CancelRecorded || point == crashpoint.LinesReserved
		e.issue(w, fmt.Sprintf("p%d", n), 1, slow, slow, n%4 == 0)
		if !e.waitDeath(60 * time.Second) {
			t.Errorf("crash point %s was never reached", point)
			e.killNow()
		}
		died := time.Since(began)
		e.start()
		restarted := time.Since(began)
		e.settleWork(w)
		e.judge(w, tally)
		t.Logf("%s: up %v, died %v, restarted %v, settled %v", point, up, died, restarted, time.Since(began))
	}
	report(t, tally)
	e.reportLogs(tally)
	e.stopLeavesNoContainers()
}

// kill -9 at random instants, 30 times, while rounds of work arrive: every
// restart picks up whatever was in flight, often in the middle of the last
// restart's recovery.
func TestE2ECrashAtRandomInstants(t *testing.T) {
	e := newE2E(t, "crashrnd", warmSandboxes...)
	tally := &crashTally{}
	w := newCrashWork()
	const kills = 30
	for n := range kills {
		e.issue(w, fmt.Sprintf("r%d", n), 1, n%3 == 1, n%6 == 1, n%5 == 2)
		time.Sleep(time.Duration(rand.IntN(1200)) * time.Millisecond)
		e.killNow()
		e.start()
	}
	e.settleWork(w)
	e.judge(w, tally)
	if v := e.orch.Violations(); len(v) > 0 {
		t.Errorf("orchestrator saw protocol violations: %v", v)
	}
	report(t, tally)
	e.reportLogs(tally)
	e.stopLeavesNoContainers()
}

// warmSandboxes: the crash tests run with the runner's default of keeping
// a workspace's sandbox between its turns, so every kill also hits kept
// sandboxes, idle or serving a turn, and their recovery.
var warmSandboxes = []string{"--sandbox-idle", "10m"}

// stopLeavesNoContainers stops the daemon gracefully: it removes the idle
// kept sandboxes, and nothing of the runner is left.
func (e *e2e) stopLeavesNoContainers() {
	e.t.Helper()
	if code := e.d.stop(e.t); code != 0 {
		e.t.Errorf("graceful stop exited %d", code)
	}
	e.waitNoContainers()
}

func report(t *testing.T, tally *crashTally) {
	t.Helper()
	t.Logf("%d messages: %d lost or unanswered, %d repeated, %d wrongly answered", tally.messages, tally.lost, tally.repeated, tally.wrong)
	for _, p := range tally.problems {
		t.Error(p)
	}
}

// reportLogs prints, when something went wrong, what every daemon of the
// test logged (its data dir's combined log, across the restarts) about the
// messages named in the problems and their workspaces' sandboxes.
func (e *e2e) reportLogs(tally *crashTally) {
	if len(tally.problems) == 0 {
		return
	}
	b, err := os.ReadFile(filepath.Join(logging.Dir(e.data), "combined.log"))
	if err != nil {
		e.t.Logf("no combined log: %v", err)
		return
	}
	var keys []string
	for _, p := range tally.problems {
		if id, _, ok := strings.Cut(p, ":"); ok {
			keys = append(keys, `"`+id+`"`)
		}
	}
	keys = append(keys, "kept sandbox", "sandbox left by a previous run", "removing a sandbox no unfinished turn owns", "runner started")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range keys {
			if strings.Contains(line, k) {
				out = append(out, line)
				break
			}
		}
	}
	e.t.Logf("the daemons' log about the problems (%d lines):\n%s", len(out), strings.Join(out[max(0, len(out)-400):], "\n"))
}
