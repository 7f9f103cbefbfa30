package relay

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace/gittest"
)

// gitCredential is the runner's credential for the test git host: it must
// reach the host and nothing else.
const gitCredential = "ghp-RUNNER-GIT-TOKEN-never-in-a-sandbox"

const testBranch = "claudette/c-1"

// gitFixture is a relay with one open turn whose git relay serves a
// repository, a loopback forward standing for the shim's, and the git CLI
// set up as the sandbox's.
type gitFixture struct {
	*fixture
	a      *Access
	origin string
	port   int
	home   string

	mu     sync.Mutex
	events []map[string]any
}

// gitConfig is testConfig with the test host's credential.
func gitConfig(t *testing.T, srv *gittest.Server) *config.Config {
	cfg := testConfig(t, "http://127.0.0.1:9")
	if srv != nil {
		cfg.Git.Tokens = srv.Host() + "=" + gitCredential
	}
	return cfg
}

// openGit starts a relay for cfg trusting srv's CA and opens a turn whose
// git relay serves origin for branch.
func openGit(t *testing.T, cfg *config.Config, srv *gittest.Server, origin, branch string) *gitFixture {
	t.Helper()
	f := &gitFixture{origin: origin, home: t.TempDir()}
	f.fixture = startRelay(t, cfg, func(r *Relay) {
		if srv != nil && srv.CertPool() != nil {
			r.gitTransport = newGitTransport(&tls.Config{RootCAs: srv.CertPool()})
		}
	})
	a, err := f.r.Open(context.Background(), Turn{MessageID: "msg-" + randHex(4), WorkspaceID: "ws-1", ConversationID: "c-1",
		Git: &GitRemote{URL: origin, Branch: branch}, Notify: func(ev json.RawMessage) {
			var m map[string]any
			if err := json.Unmarshal(ev, &m); err != nil {
				t.Errorf("event %s: %v", ev, err)
			}
			f.mu.Lock()
			f.events = append(f.events, m)
			f.mu.Unlock()
		}})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(a.Close)
	f.a = a
	f.port = forwardTCP(t, socketOf(a, gitSocket))
	return f
}

// forwardTCP listens on a free loopback port and copies each connection to
// socket, as the shim does in the sandbox; it returns the port.
func forwardTCP(t *testing.T, socket string) int {
	t.Helper()
	fw, err := listenForward(socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fw.close)
	return fw.port
}

// tcpForward is the shim's forward on the host: loopback TCP to a socket.
type tcpForward struct {
	ln   net.Listener
	dir  *os.File
	port int
}

// listenForward starts a forward to socket, dialled through /proc/self/fd
// (a test's temp path can pass the 108 bytes a socket address holds).
func listenForward(socket string) (*tcpForward, error) {
	d, err := os.Open(filepath.Dir(socket))
	if err != nil {
		return nil, err
	}
	short := "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + filepath.Base(socket)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Close()
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("unix", short)
				if err != nil {
					return
				}
				defer up.Close()
				pipe(c, up)
			}()
		}
	}()
	return &tcpForward{ln: ln, dir: d, port: ln.Addr().(*net.TCPAddr).Port}, nil
}

func (f *tcpForward) close() {
	f.ln.Close()
	f.dir.Close()
}

// sandboxEnv is what git in the sandbox runs with: the Access's git
// variables (their relay port moved to the test's forward), an empty HOME,
// no system config, an identity.
func (f *gitFixture) sandboxEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + f.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Claude", "GIT_AUTHOR_EMAIL=noreply@anthropic.com", "GIT_COMMITTER_NAME=Claude", "GIT_COMMITTER_EMAIL=noreply@anthropic.com"}
	for _, e := range f.a.Env {
		if strings.HasPrefix(e, "GIT_") {
			env = append(env, strings.ReplaceAll(e, "127.0.0.1:"+strconv.Itoa(GitPort), "127.0.0.1:"+strconv.Itoa(f.port)))
		}
	}
	return env
}

// git runs the git CLI as the sandbox would, in dir.
func (f *gitFixture) git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = f.sandboxEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (f *gitFixture) mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := f.git(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// clone clones origin through the relay into a new directory.
func (f *gitFixture) clone(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	f.mustGit(t, "", "clone", "--quiet", f.origin, dir)
	return dir
}

// commit writes a file and commits it; it returns the new HEAD.
func (f *gitFixture) commit(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustGit(t, dir, "add", name)
	f.mustGit(t, dir, "commit", "--quiet", "-m", "add "+name)
	return f.mustGit(t, dir, "rev-parse", "HEAD")
}

func (f *gitFixture) eventsOf(subtype string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, e := range f.events {
		if e["subtype"] == subtype {
			out = append(out, e)
		}
	}
	return out
}

// refOf is a ref's sha in a bare repository, "" when it does not exist.
func refOf(t *testing.T, gitDir, ref string) string {
	t.Helper()
	cmd := exec.Command("git", "--git-dir", gitDir, "rev-parse", "--verify", "--quiet", ref)
	cmd.Env = gittest.GitEnv()
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}
