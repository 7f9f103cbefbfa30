package workspace

import (
	"context"
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Params are the manager's dependencies. Logger and Registerer may be nil.
type Params struct {
	fx.In

	Config     *config.Config
	Logger     *zap.Logger           `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	// Volumes makes the directory of a fresh clone (disk limits); nil: a plain directory.
	Volumes Volumes `optional:"true"`
}

// Checkout is a workspace ready for a turn.
type Checkout struct {
	// Dir is the checkout, absolute: bind-mount it at /workspace. Its .git
	// is an empty directory, the mount point of GitDir.
	Dir string
	// GitDir is the repository's git dir, kept in the data dir: bind-mount
	// it read-write at /workspace/.git, and over it each of GitReadOnly.
	GitDir string
	// GitReadOnly are entries of GitDir (names relative to it) to bind
	// read-only over the git dir: its config, hooks and info.
	GitReadOnly []string
	// AgentStateDir is the agent's persistent state, absolute: CLAUDE_CONFIG_DIR.
	AgentStateDir string
	// Fresh is true when this call cloned the repository.
	Fresh bool
	// Bytes is the checkout's size on disk right after its clone.
	Bytes int64
	// Repository is the repository recorded for the workspace.
	Repository Repository
	// Commit is the commit the clone checked out (the agent may have moved on).
	Commit string
}

// Manager owns the checkouts under the workspace dir and the per-workspace
// state under {dataDir}/workspaces.
type Manager struct {
	root      string // {workspaceDir}, absolute
	stateRoot string // {dataDir}/workspaces, absolute
	allowHTTP bool
	tokens    map[string]string
	git       gitPolicy
	owner     *owner
	log       *zap.Logger
	metrics   *metrics
	turns     *locker // Lock: held by a caller for a whole turn
	fs        *locker // held inside Prepare/Delete for the filesystem work
	volumes   Volumes // nil: clones go into plain directories
}

const (
	agentStateName = "claude"
	tempPrefix     = ".clone-" // never a workspace id: ids do not start with '.'
)

// New returns a manager, creating the workspace and state roots when missing
// and removing clone directories a crash left behind. When the runner is root,
// checkouts and agent state are handed to the sandbox user (sandbox.user).
func New(p Params) (*Manager, error) {
	cfg := p.Config
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	tokens, err := config.ParseGitTokens(cfg.Git.Tokens)
	if err != nil {
		return nil, fmt.Errorf("git tokens: %w", err)
	}
	author, err := config.ParseAuthor(cfg.Git.Author)
	if err != nil {
		return nil, fmt.Errorf("git author: %w", err)
	}
	root, err := filepath.Abs(cfg.WorkspaceDir)
	if err != nil {
		return nil, fmt.Errorf("workspace dir: %w", err)
	}
	stateRoot, err := filepath.Abs(filepath.Join(cfg.DataDir, "workspaces"))
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("workspace dir: %w", err)
	}
	if err := os.MkdirAll(stateRoot, 0o700); err != nil {
		return nil, fmt.Errorf("workspace state dir: %w", err)
	}
	met, err := newMetrics(p.Registerer)
	if err != nil {
		return nil, fmt.Errorf("workspace metrics: %w", err)
	}
	m := &Manager{
		root: root, stateRoot: stateRoot, allowHTTP: cfg.Git.AllowHTTP, tokens: tokens,
		git: gitPolicy{author: author, pushBranches: cfg.Git.PushBranches},
		log: log, metrics: met, turns: newLocker(), fs: newLocker(), volumes: p.Volumes,
	}
	if os.Geteuid() == 0 {
		uid, gid, err := config.ParseUser(cfg.Sandbox.User)
		if err != nil {
			return nil, fmt.Errorf("sandbox user: %w", err)
		}
		m.owner = &owner{uid: uid, gid: gid}
	}
	m.sweepTemp()
	installTransport()
	return m, nil
}

// Lock makes the caller the only holder of workspace id until it calls the
// returned func, waiting while another holds it or until ctx ends. Hold it for
// a whole turn: Prepare, the sandbox run, and any Delete.
func (m *Manager) Lock(ctx context.Context, id string) (func(), error) {
	if err := ValidateID("workspaceId", id); err != nil {
		return nil, err
	}
	return m.turns.lock(ctx, id)
}

// Prepare returns the checkout of workspace id, cloning repo on the first
// turn. Later turns get the working tree exactly as the agent left it; a
// repository other than the recorded one is refused (invalid argument naming
// repository.url). Clone failures (missing ref, unreachable or private
// repository) are errors of other classes: the caller reports them as a
// failed checkout.
func (m *Manager) Prepare(ctx context.Context, id string, repo Repository) (Checkout, error) {
	if err := ValidateID("workspaceId", id); err != nil {
		return Checkout{}, err
	}
	if err := ValidateRepository(repo, m.allowHTTP); err != nil {
		return Checkout{}, err
	}
	return m.prepare(ctx, id, source{url: repo.URL, ref: repo.Ref, auth: m.authFor(repo.URL)})
}

// PrepareLocal is Prepare from a local git repository at path (the exec
// command's --repo PATH): it is cloned into the workspace like a URL, read
// only, never mounted or modified.
func (m *Manager) PrepareLocal(ctx context.Context, id, path, ref string) (Checkout, error) {
	if err := ValidateID("workspaceId", id); err != nil {
		return Checkout{}, err
	}
	if err := validateRef("ref", ref); err != nil {
		return Checkout{}, err
	}
	if path == "" || strings.HasPrefix(path, "-") || strings.ContainsFunc(path, unicode.IsControl) {
		return Checkout{}, fieldErr("path", "must be a local directory")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Checkout{}, fieldErr("path", "%v", err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return Checkout{}, fieldErr("path", "%s is not a directory", abs)
	}
	return m.prepare(ctx, id, source{url: abs, ref: ref, local: true})
}

// AgentStateDir is workspace id's agent state directory (it may not exist yet).
func (m *Manager) AgentStateDir(id string) (string, error) {
	p, err := m.pathsOf(id)
	if err != nil {
		return "", err
	}
	return p.agent, nil
}

type paths struct {
	checkout string // {root}/{id}
	state    string // {stateRoot}/{id}
	agent    string // {stateRoot}/{id}/claude
	gitDir   string // {stateRoot}/{id}/git
	record   string // {stateRoot}/{id}/workspace.json
}

func (m *Manager) pathsOf(id string) (paths, error) {
	if err := ValidateID("workspaceId", id); err != nil {
		return paths{}, err
	}
	p := paths{checkout: filepath.Join(m.root, id), state: filepath.Join(m.stateRoot, id)}
	p.agent = filepath.Join(p.state, agentStateName)
	p.gitDir = filepath.Join(p.state, gitDirName)
	p.record = filepath.Join(p.state, recordFile)
	if !within(m.root, p.checkout) || !within(m.stateRoot, p.state) || filepath.Dir(p.checkout) != m.root {
		return paths{}, fieldErr("workspaceId", "resolves outside the workspace root")
	}
	return p, nil
}

func (m *Manager) prepare(ctx context.Context, id string, src source) (co Checkout, err error) {
	start := time.Now()
	defer func() { m.metrics.prepared(co, err, time.Since(start)) }()
	p, err := m.pathsOf(id)
	if err != nil {
		return Checkout{}, err
	}
	unlock, err := m.fs.lock(ctx, id)
	if err != nil {
		return Checkout{}, err
	}
	defer unlock()
	log := m.log.With(zap.String("workspace_id", id))

	rec, err := readRecord(p.record)
	switch {
	case err == nil:
		if rec.Local != src.local || !sameSource(rec.Repository.URL, src.url, src.local) {
			field := fieldURL
			if src.local {
				field = "path"
			}
			return Checkout{}, fieldErr(field, "workspace %s is a checkout of %s, not %s", id, rec.Repository.URL, src.url)
		}
		if fi, err := os.Lstat(p.checkout); err == nil && fi.IsDir() {
			if !rec.GitDir {
				if err := m.migrate(p, rec); err != nil {
					return Checkout{}, fmt.Errorf("workspace %s: %w", id, err)
				}
			}
			if err := m.secureGit(p); err != nil {
				return Checkout{}, fmt.Errorf("workspace %s: %w", id, err)
			}
			if err := m.ensureAgentState(p); err != nil {
				return Checkout{}, err
			}
			return m.checkoutOf(p, rec, false), nil
		}
		log.Warn("workspace checkout missing; cloning again", zap.String("dir", p.checkout))
		if err := os.RemoveAll(p.gitDir); err != nil {
			return Checkout{}, fmt.Errorf("workspace %s: remove the git dir of the missing checkout: %w", id, err)
		}
	case isNotExist(err):
		// A checkout without a record was never handed out (a crash between
		// rename and record): start over.
		for _, dir := range []string{p.checkout, p.gitDir} {
			if _, err := os.Lstat(dir); err == nil {
				log.Warn("removing unrecorded checkout", zap.String("dir", dir))
				if err := os.RemoveAll(dir); err != nil {
					return Checkout{}, fmt.Errorf("remove unrecorded checkout %s: %w", dir, err)
				}
			}
		}
	default:
		return Checkout{}, err
	}
	return m.cloneWorkspace(ctx, id, p, src)
}

func (m *Manager) cloneWorkspace(ctx context.Context, id string, p paths, src source) (Checkout, error) {
	log := m.log.With(zap.String("workspace_id", id), zap.String("repository", src.url), zap.String("ref", src.ref))
	if err := os.MkdirAll(p.state, 0o700); err != nil {
		return Checkout{}, fmt.Errorf("workspace %s state: %w", id, err)
	}
	if err := sweepGitTemp(p.state); err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	tmp, err := m.makeCloneDir(id) // disk: a subvolume or quota project where the file system limits disk
	if err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	tmpGit, err := os.MkdirTemp(p.state, gitTempPrefix)
	if err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	defer os.RemoveAll(tmpGit)
	lay := layout{gitDir: tmpGit, worktree: tmp}

	start := time.Now()
	commit, err := m.clone(ctx, lay, src)
	result := "ok"
	if err != nil {
		result = "error"
	}
	elapsed := time.Since(start)
	m.metrics.cloneSeconds.WithLabelValues(src.kind(), result).Observe(elapsed.Seconds())
	if err != nil {
		log.Warn("clone failed", zap.Duration("duration", elapsed), zap.Error(err))
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	if err := m.finishLayout(lay, src); err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	size, err := treeSize(ctx, tmp)
	if err != nil {
		return Checkout{}, fmt.Errorf("measure checkout of workspace %s: %w", id, err)
	}
	gitSize, err := treeSize(ctx, tmpGit)
	if err != nil {
		return Checkout{}, fmt.Errorf("measure checkout of workspace %s: %w", id, err)
	}
	size += gitSize
	for _, dir := range []string{tmp, tmpGit} {
		if err := m.owner.chownTree(dir); err != nil {
			return Checkout{}, fmt.Errorf("hand checkout of workspace %s to the sandbox user: %w", id, err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
		}
	}
	if err := m.ensureReadOnlyParts(tmpGit); err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	if err := os.Rename(tmpGit, p.gitDir); err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	if err := syncTree(tmp); err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	if err := os.Rename(tmp, p.checkout); err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	if err := durable.SyncDir(m.root); err != nil {
		return Checkout{}, fmt.Errorf("clone workspace %s: %w", id, err)
	}
	rec := &record{
		WorkspaceID: id, Repository: Repository{URL: src.url, Ref: src.ref}, Local: src.local,
		Commit: commit, Bytes: size, ClonedAt: time.Now().UTC(), GitDir: true,
	}
	if err := writeRecord(p.record, rec); err != nil {
		return Checkout{}, fmt.Errorf("workspace %s: %w", id, err)
	}
	if err := m.ensureAgentState(p); err != nil {
		return Checkout{}, err
	}
	m.metrics.checkoutBytes.Observe(float64(size))
	log.Info("checkout ready", zap.String("commit", commit), zap.Int64("bytes", size), zap.Duration("duration", elapsed))
	return m.checkoutOf(p, rec, true), nil
}

func (m *Manager) checkoutOf(p paths, rec *record, fresh bool) Checkout {
	return Checkout{Dir: p.checkout, GitDir: p.gitDir, GitReadOnly: ReadOnlyGitParts(), AgentStateDir: p.agent,
		Fresh: fresh, Bytes: rec.Bytes, Repository: rec.Repository, Commit: rec.Commit}
}

func (m *Manager) ensureAgentState(p paths) error {
	if err := os.MkdirAll(p.state, 0o700); err != nil {
		return fmt.Errorf("agent state: %w", err)
	}
	if err := os.Mkdir(p.agent, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("agent state: %w", err)
	}
	if err := m.owner.chown(p.agent); err != nil {
		return fmt.Errorf("agent state: %w", err)
	}
	return nil
}

// authFor is the credential for a URL's host ("host:port" first, then the
// host name), from git.tokens: "token" is sent as Basic x-access-token:token,
// "user:token" as Basic user:token. Nil when no token matches.
func (m *Manager) authFor(raw string) transport.AuthMethod {
	user, pass, ok := config.GitCredential(m.tokens, raw)
	if !ok {
		return nil
	}
	return &githttp.BasicAuth{Username: user, Password: pass}
}

// sweepTemp removes clone directories a crash left in the workspace root.
func (m *Manager) sweepTemp() {
	entries, err := os.ReadDir(m.root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.RemoveAll(filepath.Join(m.root, e.Name())); err != nil {
				m.log.Warn("remove stale clone dir", zap.String("dir", e.Name()), zap.Error(err))
			}
		}
	}
}
