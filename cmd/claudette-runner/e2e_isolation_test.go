package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/moby/moby/client"
)

// modelUpstream is a recording model API answering every call with a short
// SSE stream.
type modelUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	keys []string // the x-api-key of every request
}

func newModelUpstream(t *testing.T) *modelUpstream {
	u := &modelUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.keys = append(u.keys, r.Header.Get("X-Api-Key"))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{"message_start", "content_block_delta", "message_stop"} {
			fmt.Fprintf(w, "event: %s\ndata: {\"type\":%q}\n\n", ev, ev)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *modelUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.keys...)
}

// findingsOf returns the probe results of a message's events, in order.
func (e *e2e) findingsOf(msgID string) []map[string]any {
	var out []map[string]any
	for _, ev := range e.orch.Events(msgID) {
		var line struct {
			Type    string
			Message struct {
				Content []struct {
					Type    string
					Content string
				}
			}
		}
		if json.Unmarshal(ev.Event, &line) != nil || line.Type != "user" {
			continue
		}
		for _, c := range line.Message.Content {
			var f map[string]any
			if c.Type == "tool_result" && json.Unmarshal([]byte(c.Content), &f) == nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// The whole runner, on the real engine: the agent reaches the model through
// the relay with a turn token while the upstream sees the real key; it
// reaches nothing else (host, metadata address, names, an allowed host name
// that resolves to loopback); it cannot plant a git hook or config; and the
// real key is nowhere: not in the sandbox's environment, docker inspect, the
// events, any file under the data dir or the checkout, or the runner's logs.
func TestE2ESandboxIsolationAndNoKeyInside(t *testing.T) {
	up := newModelUpstream(t)
	t.Setenv("ANTHROPIC_BASE_URL", up.URL)
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	go func() {
		for {
			c, err := listener.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\nhost service\n")
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(listener.Addr().String())

	e := newE2E(t, "isolation", "--sandbox-egress-allow", hostname+":"+port) // the port too: the address check is what refuses it
	targets := []string{"127.0.0.1:" + port, "172.17.0.1:" + port, "169.254.169.254:80"}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil && !ip.IP.IsLoopback() && ip.IP.String() != "172.17.0.1" {
			targets = append(targets, net.JoinHostPort(ip.IP.String(), port))
		}
	}
	prompt := "PROBE env\nPROBE model\nPROBE write /workspace/.git/hooks/pre-commit #!/bin/sh\nPROBE write /workspace/.git/config [core]\n" +
		"PROBE write /workspace/notes/ok.txt fine\n"
	for _, tg := range targets {
		prompt += "PROBE connect " + tg + " 2s\n"
	}
	prompt += "PROBE resolve example.com\nPROBE http http://" + net.JoinHostPort(hostname, port) + "/\nPROBE sleep 120\n"
	e.send("msg-iso", "ws-iso", "conv-iso", prompt, nil)

	// While it sleeps: what the engine holds about the sandbox.
	e.waitEvent("msg-iso", "PROBE sleep")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := e.docker.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", sandbox.LabelMessageID+"=msg-iso")})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("the turn's container: %v %v", list.Items, err)
	}
	ins, err := e.docker.ContainerInspect(ctx, list.Items[0].ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ins.Container)
	if bytes.Contains(raw, []byte(testAPIKey)) {
		t.Error("docker inspect shows the real key")
	}
	if ins.Container.HostConfig.NetworkMode != "none" {
		t.Errorf("network mode %q", ins.Container.HostConfig.NetworkMode)
	}
	roMounts := map[string]bool{}
	for _, m := range ins.Container.Mounts {
		if !m.RW {
			roMounts[m.Destination] = true
		}
	}
	for _, p := range []string{"/workspace/.git/hooks", "/workspace/.git/config", "/workspace/.git/info", "/run/claudette", "/opt/claudette/claudette-runner"} {
		if !roMounts[p] {
			t.Errorf("%s is not mounted read-only: %v", p, ins.Container.Mounts)
		}
	}
	e.call("cancel-iso", "ws-iso", rpc.MethodConversationCancel, map[string]any{"workspaceId": "ws-iso", "conversationId": "conv-iso"})
	e.response("msg-iso")

	f := e.findingsOf("msg-iso")
	if len(f) < 7+len(targets) {
		t.Fatalf("%d findings, want %d: %v", len(f), 7+len(targets), f)
	}
	env, _ := f[0]["env"].(map[string]any)
	token, _ := env["ANTHROPIC_API_KEY"].(string)
	if len(token) != 64 || env["ANTHROPIC_BASE_URL"] != "http://127.0.0.1:4141" || env["HTTPS_PROXY"] != "http://127.0.0.1:4142" {
		t.Errorf("agent env: %v", env)
	}
	if m := f[1]; m["ok"] != true || m["status"] != float64(200) || m["events"] != float64(3) {
		t.Errorf("model through the relay: %v", m)
	}
	if keys := up.seen(); len(keys) != 1 || keys[0] != testAPIKey {
		t.Errorf("the upstream saw keys %q, want the real key once", keys)
	}
	for i, what := range []string{".git/hooks/pre-commit", ".git/config"} {
		if w := f[2+i]; w["ok"] != false || !strings.Contains(fmt.Sprint(w["error"]), "read-only") {
			t.Errorf("writing %s: %v, want a read-only refusal", what, w)
		}
	}
	if w := f[4]; w["ok"] != true {
		t.Errorf("the checkout itself is not writable: %v", w)
	}
	if exists(e.checkout("ws-iso", ".git", "hooks", "pre-commit")) {
		t.Error("a hook was planted in the checkout")
	}
	for i, tg := range targets {
		if c := f[5+i]; c["ok"] != false {
			t.Errorf("the sandbox reached %s: %v", tg, c)
		}
	}
	if r := f[5+len(targets)]; r["ok"] != false {
		t.Errorf("the sandbox resolved a name: %v", r)
	}
	if h := f[6+len(targets)]; h["status"] != float64(403) {
		t.Errorf("allowed host name resolving to loopback: %v, want 403 from the proxy", h)
	}

	for _, ev := range e.orch.Events("msg-iso") {
		if bytes.Contains(ev.Event, []byte(testAPIKey)) {
			t.Errorf("event seq %d carries the real key", ev.Seq)
		}
	}
	e.d.stop(t)
	for _, dir := range []string{e.data, e.wsDir} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(testAPIKey)) {
				t.Errorf("%s holds the real key", p)
			}
			return nil
		})
	}
	if !exists(filepath.Join(e.data, "logs", "combined.log")) {
		t.Error("no combined.log was searched")
	}
	if strings.Contains(e.d.stderrText(), testAPIKey) {
		t.Error("the runner's console log holds the real key")
	}
}

// A turn re-attached after the runner was killed keeps its model access: the
// relay is opened again with the token its sandbox holds.
func TestE2EModelRelaySurvivesARestart(t *testing.T) {
	up := newModelUpstream(t)
	t.Setenv("ANTHROPIC_BASE_URL", up.URL)
	e := newE2E(t, "relay-restart")
	e.send("msg-r", "ws-r", "conv-r", "PROBE model\nPROBE sleep 15\nPROBE model\n", nil)
	e.waitEvent("msg-r", "PROBE sleep")
	e.kill9()
	e.start()
	res := result(t, e.response("msg-r"))
	f := e.findingsOf("msg-r")
	if len(f) < 3 || f[0]["ok"] != true || f[2]["ok"] != true || res.Status != rpc.StatusCompleted {
		t.Fatalf("status %s, findings %v", res.Status, f)
	}
	if keys := up.seen(); len(keys) != 2 || keys[0] != testAPIKey || keys[1] != testAPIKey {
		t.Errorf("upstream saw %q, want the real key twice", keys)
	}
	e.waitNoContainers()
}

// Fail closed: when the relay cannot be set up (here its run directory is a
// file), /readyz says why and a turn is answered -32002 with the reason,
// without any sandbox.
func TestE2ERelayUnavailableFailsClosed(t *testing.T) {
	e := newE2E(t, "relay-down")
	e.d.stop(t)
	run := filepath.Join(e.data, "run")
	if err := os.RemoveAll(run); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(run, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	body := e.d.waitHTTP(t, "/readyz", http.StatusServiceUnavailable)
	if !strings.Contains(body, `"relay"`) || !strings.Contains(body, "model relay") {
		t.Errorf("/readyz does not name the relay: %s", body)
	}
	e.send("msg-down", "ws-down", "conv-down", "PROBE env", nil)
	rerr := wantError(t, e.response("msg-down"), rpc.CodeSandboxFailed)
	if !strings.Contains(rerr.Message, "model relay unavailable") {
		t.Errorf("error message %q does not give the reason", rerr.Message)
	}
	if left := e.containers(); len(left) != 0 {
		t.Errorf("a sandbox was created: %v", left)
	}
}
