package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

// Where things are inside the sandbox.
const (
	// SocketDir is where the turn's socket directory is mounted.
	SocketDir = "/run/claudette"
	// ShimPath is where the runner's binary is mounted.
	ShimPath = "/opt/claudette/claudette-runner"
	// ShimLibDir is where a dynamically linked runner's loader and libraries
	// are mounted; the shim then runs through that loader.
	ShimLibDir = "/opt/claudette/lib"
	// ModelPort and EgressPort (and GitPort) are the loopback ports the
	// shim listens on.
	ModelPort  = 4141
	EgressPort = 4142
	// ShimCommand is the hidden subcommand of the runner that is the shim.
	ShimCommand = "sandbox-shim"

	modelSocket  = "model.sock"
	egressSocket = "egress.sock"
)

// networkBridge is the engine's default network, for --sandbox-network open.
const networkBridge = "bridge"

// Access is what one turn's sandbox gets to reach the model (and the allowed
// hosts): environment, mounts, network mode and the command prefix.
type Access struct {
	// Token is the turn's token; keep it to re-open the turn after a restart.
	Token string
	// Env is ANTHROPIC_BASE_URL, the token, and the proxy variables when
	// there are egress rules. Nothing else; never the real credential.
	Env []string
	// Mounts are the socket directory and the shim binary, read-only.
	Mounts []sandbox.Mount
	// NetworkMode is "none", or "bridge" when the operator chose open.
	NetworkMode string
	// Keeper is the command line of a kept sandbox's long-lived process:
	// the shim as the keeper (sandbox.KeeperMain), run by the same mounts.
	Keeper []string

	prefix []string
	turn   *turnRelay
}

// Wrap returns the sandbox command: the shim, which starts the forwarders
// and runs cmd as its child.
func (a *Access) Wrap(cmd []string) []string {
	out := make([]string, 0, len(a.prefix)+len(cmd))
	return append(append(out, a.prefix...), cmd...)
}

// Close ends the turn's access: listeners and connections close, the token
// is refused from now on, the socket directory is removed. Idempotent.
func (a *Access) Close() {
	if a != nil && a.turn != nil {
		a.turn.shutdown(true)
	}
}

// Open starts the relay (and the egress proxy when there are rules) of one
// turn. An error means the sandbox must not start.
func (r *Relay) Open(ctx context.Context, t Turn) (*Access, error) {
	if !config.IDPattern.MatchString(t.WorkspaceID) || !config.IDPattern.MatchString(t.ConversationID) || t.MessageID == "" {
		return nil, fmt.Errorf("model relay: turn %q of %s/%s has invalid ids", t.MessageID, t.WorkspaceID, t.ConversationID)
	}
	if t.Git != nil {
		if err := t.Git.check(); err != nil {
			return nil, err
		}
	}
	token := t.Token
	if token == "" {
		var err error
		if token, err = newToken(); err != nil {
			return nil, fmt.Errorf("model relay: %w", err)
		}
	}
	r.mu.Lock()
	if err := r.setupErr; err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("model relay unavailable: %w", err)
	}
	if _, dup := r.turns[t.MessageID]; dup {
		r.mu.Unlock()
		return nil, fmt.Errorf("model relay: turn %s is already open", t.MessageID)
	}
	tr := &turnRelay{r: r, turn: t, token: token, conv: convKey{t.WorkspaceID, t.ConversationID}}
	tr.meter = r.newMeter(tr, t.Meter)
	r.turns[t.MessageID] = tr
	delete(r.orphans, turnDirName(t.MessageID))
	r.metrics.open.Inc() // until shutdown
	r.mu.Unlock()

	if err := tr.listen(); err != nil {
		tr.shutdown(true)
		return nil, fmt.Errorf("model relay: %w", err)
	}
	log := r.log.With(zap.String("message_id", t.MessageID), zap.String("workspace_id", t.WorkspaceID))
	a := &Access{Token: token, NetworkMode: sandbox.NetworkNone, turn: tr,
		Mounts: append([]sandbox.Mount{{Source: tr.dir, Target: SocketDir, ReadOnly: true}}, r.shim.mounts...),
		Env:    []string{"ANTHROPIC_BASE_URL=http://127.0.0.1:" + strconv.Itoa(ModelPort), r.credentialVar() + "=" + token},
		prefix: append(append([]string(nil), r.shim.prefix...), ShimCommand, "--forward", forwardArg(ModelPort, modelSocket)),
	}
	a.Keeper = append(append([]string(nil), r.shim.prefix...), ShimCommand, "--keeper")
	if t.Timeout > 0 {
		a.prefix = append(a.prefix, "--deadline", shimDeadline(t.Timeout, r.cfg.Sandbox.StopGrace).String(),
			"--grace", r.cfg.Sandbox.StopGrace.String())
	}
	if tr.egress != nil {
		proxy := "http://127.0.0.1:" + strconv.Itoa(EgressPort)
		a.Env = append(a.Env, "HTTPS_PROXY="+proxy, "HTTP_PROXY="+proxy, "https_proxy="+proxy, "http_proxy="+proxy,
			"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
		a.prefix = append(a.prefix, "--forward", forwardArg(EgressPort, egressSocket))
	}
	if tr.git != nil {
		a.Env = append(a.Env, gitEnv(t.Git.URL, token)...)
		a.prefix = append(a.prefix, "--forward", forwardArg(GitPort, gitSocket))
	}
	a.prefix = append(a.prefix, "--")
	if r.cfg.Sandbox.Network == config.NetworkOpen {
		a.NetworkMode = networkBridge
		log.Warn("sandbox network is open for this turn: the agent can reach the internet, the host and private networks")
	}
	log.Debug("model relay open", zap.Bool("egress_proxy", tr.egress != nil), zap.Bool("git_relay", tr.git != nil), zap.Bool("reopened", t.Token != ""))
	return a, nil
}

func forwardArg(port int, socket string) string {
	return "127.0.0.1:" + strconv.Itoa(port) + "=" + SocketDir + "/" + socket
}

// credentialVar is the variable the turn token goes in: the one the CLI
// would read the runner's own credential from.
func (r *Relay) credentialVar() string {
	if r.cfg.Model.APIKey == "" && r.cfg.Model.AuthToken != "" {
		return "ANTHROPIC_AUTH_TOKEN"
	}
	return "ANTHROPIC_API_KEY"
}

// newToken is 32 random bytes, hex.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("turn token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// turnRelay is one open turn: its directory, listeners and servers.
type turnRelay struct {
	r     *Relay
	turn  Turn
	token string
	conv  convKey
	dir   string

	model  *http.Server
	egress *egress
	git    *gitRelay
	meter  *meter

	once sync.Once
}

func (t *turnRelay) listen() error {
	dir, err := t.socketDir()
	if err != nil {
		return err
	}
	t.dir = dir
	mln, err := listenUnix(dir, modelSocket)
	if err != nil {
		return err
	}
	t.model = &http.Server{Handler: t.r.modelHandler(t), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: zap.NewStdLog(t.r.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)))}
	t.serve(t.model, mln)
	if t.turn.Git != nil {
		g, err := t.r.newGitRelay(t)
		if err != nil {
			return err
		}
		gln, err := listenUnix(dir, gitSocket)
		if err != nil {
			return err
		}
		t.git = g
		t.serve(g.server, gln)
	}
	if t.r.rules.empty() {
		return nil
	}
	eln, err := listenUnix(dir, egressSocket)
	if err != nil {
		return err
	}
	t.egress = t.r.newEgress(t)
	t.serve(t.egress.server, eln)
	return nil
}

func (t *turnRelay) serve(srv *http.Server, ln net.Listener) {
	t.r.wg.Add(1)
	go func() {
		defer t.r.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.r.log.Warn("relay listener failed", zap.String("message_id", t.turn.MessageID), zap.Error(err))
		}
	}()
}

// shutdown closes the servers and every connection; with remove, the turn
// has ended: its directory goes and its conversation's series start aging.
func (t *turnRelay) shutdown(remove bool) {
	t.once.Do(func() {
		if t.model != nil {
			_ = t.model.Close()
		}
		t.r.metrics.open.Dec()
		if t.egress != nil {
			t.egress.close()
		}
		if t.git != nil {
			t.git.close()
		}
		r := t.r
		r.mu.Lock()
		if r.turns[t.turn.MessageID] == t {
			delete(r.turns, t.turn.MessageID)
		}
		r.seen[t.conv] = time.Now()
		r.mu.Unlock()
		if remove && t.dir != "" && t.turn.SocketDir != "" {
			for _, name := range []string{modelSocket, egressSocket, gitSocket} {
				if err := os.Remove(filepath.Join(t.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					r.log.Warn("cannot remove a turn socket", zap.String("message_id", t.turn.MessageID), zap.Error(err))
				}
			}
		} else if remove && t.dir != "" {
			if err := os.RemoveAll(t.dir); err != nil {
				r.log.Warn("cannot remove turn socket dir", zap.String("message_id", t.turn.MessageID), zap.Error(err))
			}
		}
	})
}

// socketDir is where the turn's sockets go: Turn.SocketDir (which must be
// a directory, not a symbolic link), or a directory of the turn's own.
func (t *turnRelay) socketDir() (string, error) {
	if t.turn.SocketDir == "" {
		return turnDir(t.r.turnsDir(), t.turn.MessageID)
	}
	fi, err := os.Lstat(t.turn.SocketDir)
	if err != nil || !fi.IsDir() || !filepath.IsAbs(t.turn.SocketDir) {
		return "", fmt.Errorf("turn socket dir %s is not an absolute directory: %v", t.turn.SocketDir, err)
	}
	return t.turn.SocketDir, nil
}
