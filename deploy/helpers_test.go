package deploy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

func TestMain(m *testing.M) { demotest.Main(m) }

// repoRoot is the repository, seen from this package's directory.
const repoRoot = ".."

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := sandbox.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// compose runs one compose project: docker-compose (v1) where installed, else
// the docker compose plugin (v2). The environment holds nothing of the
// caller's runner settings: they come from the env file only.
type compose struct {
	t       *testing.T
	cmd     []string
	project string
	files   []string
	envFile string
}

func findCompose(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if err := exec.Command("docker", "compose", "version").Run(); err == nil {
		return []string{"docker", "compose"}
	}
	t.Fatal("neither docker-compose (v1) nor the docker compose plugin (v2) is installed")
	return nil
}

func (c *compose) run(ctx context.Context, args ...string) (string, error) {
	full := slices.Clone(c.cmd[1:])
	full = append(full, "--project-name", c.project, "--env-file", c.envFile)
	for _, f := range c.files {
		full = append(full, "-f", f)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, c.cmd[0], full...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(c.cmd[0]), strings.Join(full, " "), err, out)
	}
	return string(out), nil
}

func (c *compose) must(ctx context.Context, args ...string) string {
	c.t.Helper()
	out, err := c.run(ctx, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// cleanEnv is the test's environment without any runner or compose setting.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CLAUDETTE_") || strings.HasPrefix(k, "ANTHROPIC_") || strings.HasPrefix(k, "COMPOSE_") || k == "DEBUG" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// writeEnvFile writes deploy/.env.example with the given values set, the way
// an operator fills it in: existing KEY= lines get the value, the others are
// appended.
func writeEnvFile(t *testing.T, path string, values map[string]string) {
	t.Helper()
	example, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]string{}
	for k, v := range values {
		left[k] = v
	}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(example)))
	for sc.Scan() {
		line := sc.Text()
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			if v, set := left[k]; set {
				line = k + "=" + v
				delete(left, k)
			}
		}
		b.WriteString(line + "\n")
	}
	keys := make([]string, 0, len(left))
	for k := range left {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + left[k] + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// buildRunnerImage runs `make image` into a repository unique to the test
// and returns the image reference; both of its tags are removed at the end.
func buildRunnerImage(ctx context.Context, t *testing.T, cli *client.Client) string {
	t.Helper()
	repo := "claudette-test/runner-" + randHex(t, 4)
	dir := t.TempDir()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, tag := range []string{repo + ":compose-test", repo + ":latest"} {
			if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
				t.Errorf("remove image %s: %v", tag, err)
			}
		}
	})
	cmd := exec.CommandContext(ctx, "make", "-C", repoRoot, "image",
		"BIN="+filepath.Join(dir, "claudette-runner"), "IMAGE_CONTEXT="+filepath.Join(dir, "context"),
		"RUNNER_IMAGE="+repo, "VERSION=compose-test", "IMAGE_LABELS="+demotest.TestLabel+"=true")
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	return repo + ":compose-test"
}

// hostGatewayIP is the address "host-gateway" resolves to in a container:
// the default bridge's gateway, on the host.
func hostGatewayIP(ctx context.Context, t *testing.T, cli *client.Client) string {
	t.Helper()
	res, err := cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		t.Fatalf("inspect the default bridge network: %v", err)
	}
	for _, c := range res.Network.IPAM.Config {
		if c.Gateway.IsValid() && c.Gateway.Is4() {
			return c.Gateway.String()
		}
	}
	if iface, err := net.InterfaceByName("docker0"); err == nil {
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	t.Fatal("cannot find the host-gateway address (the default bridge's gateway, docker0)")
	return ""
}

// forward relays TCP connections from a port on ip (one containers reach
// through host-gateway) to target, a test server on the host's loopback. It
// returns the port and stops when the test ends.
func forward(t *testing.T, ip, target string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on the host-gateway address %s: %v", ip, err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			track(in)
			track(out)
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); _ = out.(*net.TCPConn).CloseWrite() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); _ = in.(*net.TCPConn).CloseWrite() }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// hostPort is the port part of a URL's host:port.
func hostPort(t *testing.T, rawURL string) string {
	t.Helper()
	hp := strings.TrimPrefix(strings.TrimPrefix(rawURL, "http://"), "https://")
	hp, _, _ = strings.Cut(hp, "/")
	return hp
}

// waitUntil polls cond until it holds or ctx ends; then it fails the test
// with what, the last error and more().
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() (bool, error), more func() string) {
	t.Helper()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			extra := ""
			if more != nil {
				extra = more()
			}
			t.Fatalf("%s: not within the deadline (last error: %v)\n%s", what, last, extra)
		case <-tick.C:
		}
	}
}
