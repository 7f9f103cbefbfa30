package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// turnDirName is a turn's directory name: message ids may be long and hold
// any character, a hash is short and safe.
func turnDirName(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return hex.EncodeToString(sum[:12])
}

// prepareRunDir creates the directory of turn directories and returns those a
// previous process left (a re-attached turn takes its own back).
func prepareRunDir(dir string) ([]string, error) {
	// Only the engine reaches a turn's directory through these (a bind
	// mount's source); the sandbox sees the turn directory alone.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}

// turnDir creates (or takes back, after a restart) a turn's socket
// directory. It is reused rather than re-created, because a sandbox that
// outlived the runner has this very directory mounted.
func turnDir(root, messageID string) (string, error) {
	dir := filepath.Join(root, turnDirName(messageID))
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(dir, 0o711); err != nil {
			return "", fmt.Errorf("create turn dir: %w", err)
		}
	case err != nil:
		return "", fmt.Errorf("turn dir: %w", err)
	case !fi.IsDir():
		return "", fmt.Errorf("turn dir %s is not a directory", dir)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", fmt.Errorf("turn dir: %w", err)
	}
	return dir, nil
}

// listenUnix listens on dir/name, replacing a stale socket. The socket is
// bound through /proc/self/fd, so the data dir's path length never runs into
// the 108-byte limit of a socket address; it is writable by every user (the
// sandbox's uid differs from the runner's), and the token is what guards it.
func listenUnix(dir, name string) (*net.UnixListener, error) {
	path := filepath.Join(dir, name)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open turn dir: %w", err)
	}
	defer d.Close()
	short := "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + name
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: short, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The name through /proc stops meaning this file once d is closed; the
	// directory is removed with the turn instead.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	return ln, nil
}

// removeOrphans removes the turn directories a previous process left that no
// turn took back within orphanGrace.
func (r *Relay) removeOrphans(now time.Time) {
	r.mu.Lock() // held while removing: Open takes an orphan back under it
	defer r.mu.Unlock()
	for name, since := range r.orphans {
		if now.Sub(since) < orphanGrace {
			continue
		}
		delete(r.orphans, name)
		if err := os.RemoveAll(filepath.Join(r.turnsDir(), name)); err != nil {
			r.log.Warn("cannot remove orphaned turn dir", zap.String("dir", name), zap.Error(err))
		}
	}
}
