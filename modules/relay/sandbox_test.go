package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"go.uber.org/zap/zaptest"
)

// sandboxConfig is testConfig for real sandboxes: the demo image (the fake
// claude) and small limits.
func sandboxConfig(t *testing.T, upstream string) *config.Config {
	cfg := testConfig(t, upstream)
	cfg.TurnTimeout = 2 * time.Minute
	cfg.Sandbox.Image = demotest.Image(t)
	cfg.Sandbox.Pull = config.PullNever
	cfg.Sandbox.Memory = 256 << 20
	cfg.Sandbox.CPUs = 1
	cfg.Sandbox.Pids = 128
	cfg.Sandbox.TmpSize = 16 << 20
	cfg.Sandbox.OutputLimit = 8 << 20
	cfg.Sandbox.LineLimit = 256 << 10
	cfg.Sandbox.StopGrace = 2 * time.Second
	// make test-runsc: the same tests under gVisor, whose sentry threads
	// count against the process limit.
	if rt := os.Getenv("CLAUDETTE_TEST_RUNTIME"); rt != "" {
		cfg.Sandbox.Runtime = rt
		cfg.Sandbox.Pids = 512
	}
	return cfg
}

type engine struct {
	m      *sandbox.Manager
	docker *client.Client
	cfg    *config.Config
}

// startEngine starts a sandbox manager for cfg; every container of the
// runner is removed when the test ends.
func startEngine(t *testing.T, cfg *config.Config) *engine {
	t.Helper()
	cli, err := sandbox.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	m, err := sandbox.New(sandbox.Params{Config: cfg, Logger: zaptest.NewLogger(t), Docker: cli})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeContainers(t, cli, sandbox.LabelRunnerID+"="+cfg.RunnerID)
		cli.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		t.Fatalf("start sandbox engine: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = m.Stop(ctx)
	})
	return &engine{m: m, docker: cli, cfg: cfg}
}

func removeContainers(t *testing.T, cli *client.Client, label string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", label)})
	if err != nil {
		t.Errorf("cleanup: list containers: %v", err)
		return
	}
	for _, c := range res.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove %s: %v", c.ID, err)
		}
	}
}

// run starts the fake claude with prompt in a sandbox wired to the turn's
// access, as the conversation manager does.
func (e *engine) run(t *testing.T, a *Access, prompt string) (*sandbox.Run, string) {
	t.Helper()
	checkout, state := filepath.Join(t.TempDir(), "checkout"), filepath.Join(t.TempDir(), "state")
	for _, d := range []string{checkout, state} {
		if err := e.m.PrepareDir(d); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := e.m.Run(ctx, sandbox.Spec{
		WorkspaceID: "ws-1", MessageID: "msg-" + randHex(4),
		Cmd:         a.Wrap([]string{"claude", "-p", "--output-format", "stream-json", "--verbose"}),
		Env:         append([]string{"CLAUDE_CONFIG_DIR=/state", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"}, a.Env...),
		Checkout:    checkout,
		Mounts:      append([]sandbox.Mount{{Source: state, Target: "/state"}}, a.Mounts...),
		NetworkMode: a.NetworkMode,
		Stdin:       []byte(prompt),
		Labels:      map[string]string{demotest.TestLabel: "true"},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return r, checkout
}

// findings reads the run's probe results until n have come (then cancels the
// run) or it ends.
func findings(t *testing.T, r *sandbox.Run, n int) ([]map[string]any, [][]byte) {
	t.Helper()
	var lines [][]byte
	var out []map[string]any
	for l := range r.Lines() {
		lines = append(lines, l.Data)
		if out = findingsOf(lines); len(out) == n {
			r.Cancel("test has its findings")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := r.Wait(ctx)
	if len(out) < n {
		t.Fatalf("%d findings, want %d; run ended: %s; stderr %s", len(out), n, st.Reason, r.StderrTail())
	}
	return out, lines
}

// hostIPv4s are this host's IPv4 addresses (docker0's among them).
func hostIPv4s(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil {
			out = append(out, ip.IP.String())
		}
	}
	return out
}

// otherSandbox starts a container on the engine's default bridge serving
// HTTP on :8080, and returns its address once the host can reach it.
func otherSandbox(t *testing.T, e *engine) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	label := "dev.claudette.test.relay-other=" + e.cfg.RunnerID
	k, v, _ := strings.Cut(label, "=")
	t.Cleanup(func() { removeContainers(t, e.docker, label) })
	res, err := e.docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: e.cfg.Sandbox.Image, User: "1000:1000", Entrypoint: []string{"busybox", "httpd", "-f", "-p", "8080", "-h", "/tmp"},
			Labels: map[string]string{demotest.TestLabel: "true", k: v}},
		HostConfig: &container.HostConfig{NetworkMode: "bridge"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.docker.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	ins, err := e.docker.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := ""
	for _, n := range ins.Container.NetworkSettings.Networks {
		if n.IPAddress.IsValid() {
			ip = n.IPAddress.String()
		}
	}
	addr := net.JoinHostPort(ip, "8080")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other sandbox %s is not reachable from the host either: %v", addr, err)
		}
	}
}

// A sandbox reaches the model through the relay and nothing else: not the
// host (loopback, its addresses, docker0), not another sandbox, not the
// metadata address, not the internet by IPv4, IPv6 or name. The real key is
// nowhere the sandbox or its inspection can see.
func TestSandboxReachesOnlyTheModelRelay(t *testing.T) {
	up := newUpstream(t)
	cfg := sandboxConfig(t, up.URL)
	f := startRelay(t, cfg)
	e := startEngine(t, cfg)

	host, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	go func() {
		for {
			c, err := host.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(host.Addr().String())
	other := otherSandbox(t, e)

	var targets []string
	for _, ip := range append(hostIPv4s(t), "172.17.0.1") { // docker0's gateway
		if slices.Contains(targets, net.JoinHostPort(ip, port)) {
			continue
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), time.Second); err == nil {
			c.Close() // reachable from the host: a fair target
			targets = append(targets, net.JoinHostPort(ip, port))
		}
	}
	targets = append(targets, other, "169.254.169.254:80", "[2606:4700:4700::1111]:443", "1.1.1.1:443", "[::1]:"+port)
	prompt := "PROBE env\nPROBE model\nPROBE report\n"
	for _, tg := range targets {
		prompt += "PROBE connect " + tg + " 2s\n"
	}
	prompt += "PROBE resolve example.com\nPROBE http http://example.com/\nPROBE sleep 60\n"

	a := f.open(t, "")
	r, checkout := e.run(t, a, prompt)
	ins, err := e.docker.ContainerInspect(context.Background(), r.ContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ins.Container)
	if bytes.Contains(raw, []byte(realKey)) {
		t.Error("docker inspect shows the real key")
	}
	if ins.Container.HostConfig.NetworkMode != "none" {
		t.Errorf("network mode %q, want none", ins.Container.HostConfig.NetworkMode)
	}
	n := 3 + len(targets) + 2
	got, lines := findings(t, r, n)

	env, _ := got[0]["env"].(map[string]any)
	if env["ANTHROPIC_API_KEY"] != a.Token || env["ANTHROPIC_BASE_URL"] != "http://127.0.0.1:4141" || env["ANTHROPIC_AUTH_TOKEN"] != nil {
		t.Errorf("sandbox env: %v", env)
	}
	for k, v := range env {
		if strings.Contains(fmt.Sprint(v), realKey) || strings.Contains(strings.ToLower(k), "proxy") {
			t.Errorf("sandbox env has %s=%v", k, v)
		}
	}
	if m := got[1]; m["ok"] != true || m["status"] != float64(200) || m["events"] != float64(len(sseEvents)) {
		t.Errorf("model through the relay: %v", m)
	}
	if rec := up.requests(); len(rec) != 1 || rec[0].Header.Get("X-Api-Key") != realKey {
		t.Errorf("the upstream did not get one request with the real key: %+v", rec)
	}
	var ifaces []string
	for _, i := range got[2]["interfaces"].([]any) {
		ifaces = append(ifaces, i.(map[string]any)["name"].(string))
	}
	if !slices.Equal(ifaces, []string{"lo"}) {
		t.Errorf("interfaces %v, want lo only", ifaces)
	}
	for i, tg := range targets {
		if c := got[3+i]; c["ok"] != false {
			t.Errorf("the sandbox reached %s: %v", tg, c)
		}
	}
	if res := got[3+len(targets)]; res["ok"] != false {
		t.Errorf("the sandbox resolved a name: %v", res)
	}
	if h := got[4+len(targets)]; h["ok"] != false {
		t.Errorf("the sandbox fetched a URL: %v", h)
	}
	for _, l := range lines {
		if bytes.Contains(l, []byte(realKey)) {
			t.Error("the agent's output holds the real key")
		}
	}
	assertNoKeyIn(t, cfg.DataDir, checkout)
	if strings.Contains(f.logs.String(), realKey) {
		t.Error("the relay's log holds the real key")
	}
}

// assertNoKeyIn walks dirs for a file holding the real key.
func assertNoKeyIn(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(data, []byte(realKey)) {
				t.Errorf("%s holds the real key", p)
			}
			return nil
		})
		if err != nil {
			t.Errorf("walk %s: %v", dir, err)
		}
	}
}

// Through the egress proxy a sandbox reaches an allowed host (plain HTTP, and
// a CONNECT tunnel up to the TLS handshake with the test server) and nothing
// else: a host off the list and an allowed name resolving to a private
// address are refused; the public address itself is not reachable directly.
func TestSandboxEgressAllowlist(t *testing.T) {
	f, hooks, _ := egressFixture(t, "allowed.test", "private.test")
	cfg := f.r.cfg
	cfg.Sandbox.Image, cfg.Sandbox.Pull, cfg.TurnTimeout = demotest.Image(t), config.PullNever, 2*time.Minute
	e := startEngine(t, cfg)
	a := f.open(t, "")
	r, _ := e.run(t, a, "PROBE http http://allowed.test/hello\nPROBE http https://allowed.test/\nPROBE http http://denied.test/\n"+
		"PROBE http http://private.test/\nPROBE connect "+publicTestAddr.String()+":80 2s\n")
	got, _ := findings(t, r, 5)

	if h := got[0]; h["ok"] != true || h["status"] != float64(200) || h["body"] != "hello from allowed.test" || h["proxy"] != "http://127.0.0.1:4142" {
		t.Errorf("allowed plain http: %v", h)
	}
	if h := got[1]; h["ok"] != false || !strings.Contains(fmt.Sprint(h["error"]), "certificate") {
		t.Errorf("allowed CONNECT should reach the TLS server (whose certificate the agent does not trust): %v", h)
	}
	for i, what := range []string{"a host off the list", "an allowed name with a private address"} {
		if h := got[2+i]; h["status"] != float64(403) {
			t.Errorf("%s: %v, want 403", what, h)
		}
	}
	if c := got[4]; c["ok"] != false {
		t.Errorf("the sandbox dialled a public address directly: %v", c)
	}
	if d := hooks.dials(); len(d) != 2 {
		t.Errorf("the proxy dialled %q, want the allowed host twice", d)
	}
}
