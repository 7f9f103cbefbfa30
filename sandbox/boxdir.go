package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// A kept sandbox's host directory, {dataDir}/run/sandboxes/<hash of the
// workspace id>/ (the runner's only, 0700):
//
//	keeper/             the sandbox user's, mounted read-write at KeeperDir: the keeper's socket
//	relay/              the relay's per-turn sockets (RelayDir), mounted read-only at /run/claudette
//	turn.json           the turn the keeper runs or ran last (keptTurnRecord), written before it is asked
//	turns/<turn>/out    the turn's stdout and stderr, framed, written by the keeper through a passed fd
//	turns/<turn>/status the turn's exit (keeperExit), written by the keeper
//
// Nothing of the agent can reach turns/ or turn.json: they are not mounted.

const sandboxesDir = "sandboxes"

// boxDir is a workspace's kept-sandbox directory.
func (m *Manager) boxDir(workspaceID string) string {
	sum := sha256.Sum256([]byte(workspaceID))
	return filepath.Join(m.runRoot(), sandboxesDir, hex.EncodeToString(sum[:12]))
}

func (m *Manager) runRoot() string {
	d, err := filepath.Abs(m.cfg.DataDir)
	if err != nil {
		d = m.cfg.DataDir
	}
	return filepath.Join(d, "run")
}

// RelayDir returns (creating it) the directory a workspace's turns' relay
// sockets live in: the same every turn, so a kept sandbox that mounted it at
// its start reaches each turn's new sockets (the relay creates them for the
// turn and removes them when it ends, with the turn's token).
func (m *Manager) RelayDir(workspaceID string) (string, error) {
	dir := filepath.Join(m.boxDir(workspaceID), "relay")
	if err := mkdirOwned(filepath.Dir(dir), 0o700, -1, -1); err != nil {
		return "", err
	}
	if err := mkdirOwned(dir, 0o711, -1, -1); err != nil {
		return "", err
	}
	return dir, nil
}

// keeperHostDir returns (creating it) the host side of KeeperDir.
func (m *Manager) keeperHostDir(workspaceID string) (string, error) {
	dir := filepath.Join(m.boxDir(workspaceID), "keeper")
	if err := mkdirOwned(filepath.Dir(dir), 0o700, -1, -1); err != nil {
		return "", err
	}
	if err := mkdirOwned(dir, 0o700, m.uid, m.gid); err != nil {
		return "", err
	}
	return dir, nil
}

// mkdirOwned makes dir (its parents 0700) with mode, owned by uid:gid (-1:
// the runner), refusing a symbolic link.
func mkdirOwned(dir string, mode os.FileMode, uid, gid int) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("sandbox dir: %w", err)
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sandbox dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("sandbox dir %s is not a directory: %v", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("sandbox dir: %w", err)
	}
	if uid >= 0 {
		if err := os.Lchown(dir, uid, gid); err != nil {
			return fmt.Errorf("sandbox dir: %w", err)
		}
	}
	return nil
}

// keptTurnRecord names the turn a kept sandbox runs (turn.json): what a
// restarted runner re-attaches to.
type keptTurnRecord struct {
	MessageID string        `json:"messageId"`
	Turn      string        `json:"turn"`
	Deadline  time.Time     `json:"deadline"`
	Timeout   time.Duration `json:"timeout"`
	Keep      bool          `json:"keep"`
	// The container's cgroup counters before the turn: the turn's own
	// kills are the difference.
	PidsMax  int64 `json:"pidsMax"`
	OOMKills int64 `json:"oomKills"`
}

func turnName(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return hex.EncodeToString(sum[:12])
}

func (m *Manager) turnDir(workspaceID, turn string) string {
	return filepath.Join(m.boxDir(workspaceID), "turns", turn)
}

// writeTurnRecord writes turn.json whole (durable.ReplaceFile: not synced,
// since it names a turn of a container, which does not outlive the machine;
// what reads it again is a runner restarted on the same machine).
func (m *Manager) writeTurnRecord(workspaceID string, rec keptTurnRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := durable.ReplaceFile(filepath.Join(m.boxDir(workspaceID), "turn.json"), b, 0o600); err != nil {
		return fmt.Errorf("record kept turn: %w", err)
	}
	return nil
}

func (m *Manager) readTurnRecord(workspaceID string) (keptTurnRecord, bool) {
	var rec keptTurnRecord
	b, err := os.ReadFile(filepath.Join(m.boxDir(workspaceID), "turn.json"))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Turn == "" {
		return rec, false
	}
	return rec, true
}

// turnFiles creates a turn's output and status files (truncating what a
// run that never started left) and returns them open for the keeper.
func (m *Manager) turnFiles(workspaceID, turn string) (out, status *os.File, err error) {
	dir := m.turnDir(workspaceID, turn)
	if err := os.RemoveAll(dir); err != nil {
		return nil, nil, fmt.Errorf("turn dir: %w", err)
	}
	if err := mkdirOwned(dir, 0o700, -1, -1); err != nil {
		return nil, nil, err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND | syscall.O_NOFOLLOW
	if out, err = os.OpenFile(filepath.Join(dir, "out"), flags, 0o600); err != nil {
		return nil, nil, fmt.Errorf("turn output: %w", err)
	}
	if status, err = os.OpenFile(filepath.Join(dir, "status"), flags, 0o600); err != nil {
		out.Close()
		return nil, nil, fmt.Errorf("turn status: %w", err)
	}
	return out, status, nil
}

// readTurnStatus reads the exit the keeper wrote, if it did.
func (m *Manager) readTurnStatus(workspaceID, turn string) (keeperExit, bool) {
	var ex keeperExit
	b, err := os.ReadFile(filepath.Join(m.turnDir(workspaceID, turn), "status"))
	if err != nil || len(b) == 0 || json.Unmarshal(b, &ex) != nil {
		return ex, false
	}
	return ex, true
}

// turnOutput reports whether a turn's output file holds anything.
func (m *Manager) turnOutput(workspaceID, turn string) bool {
	fi, err := os.Lstat(filepath.Join(m.turnDir(workspaceID, turn), "out"))
	return err == nil && fi.Size() > 0
}

// removeTurnFiles forgets every turn's files of a workspace.
func (m *Manager) removeTurnFiles(workspaceID string) {
	_ = os.RemoveAll(filepath.Join(m.boxDir(workspaceID), "turns"))
}

// stdinFile opens what a kept turn reads as stdin: the spec's prompt file,
// or its Stdin bytes written to the turn's directory.
func (m *Manager) stdinFile(s *Spec, turn string) (*os.File, error) {
	if s.StdinFile != "" {
		f, err := os.OpenFile(s.StdinFile, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return nil, fmt.Errorf("open the prompt file: %w", err)
		}
		return f, nil
	}
	p := filepath.Join(m.turnDir(s.WorkspaceID, turn), "stdin")
	if err := os.WriteFile(p, s.Stdin, 0o600); err != nil {
		return nil, fmt.Errorf("write the turn's stdin: %w", err)
	}
	return os.Open(p)
}

// dialPath is a short name for a socket path (the 108-byte limit of socket
// addresses): through an open directory's /proc/self/fd entry.
func dialPath(dir *os.File, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + name
}
