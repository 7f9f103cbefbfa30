package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Volumes makes the directory a fresh checkout is cloned into, so that the
// file system can limit the workspace's disk: a btrfs subvolume, or a
// directory of the workspace's quota project (package disk).
type Volumes interface {
	MakeCheckoutDir(id, dir string) error
}

// makeCloneDir creates the temporary directory a clone of workspace id goes
// into before it is renamed into place.
func (m *Manager) makeCloneDir(id string) (string, error) {
	if m.volumes == nil {
		return os.MkdirTemp(m.root, tempPrefix+id+"-")
	}
	for {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		dir := filepath.Join(m.root, tempPrefix+id+"-"+hex.EncodeToString(b[:]))
		err := m.volumes.MakeCheckoutDir(id, dir)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return dir, err
	}
}
