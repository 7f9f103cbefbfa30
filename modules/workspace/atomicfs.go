package workspace

import (
	"errors"
	"fmt"
	"path"

	"github.com/go-git/go-billy/v5"
)

// atomicFS is a git dir's filesystem on which every file go-git creates
// (the index, refs, HEAD, the shallow file, config) is written aside,
// synced and renamed into place when it is closed: a crash (kill -9, power
// loss) mid-write leaves the old file or the new one, never a torn index that
// would fail every later turn of the workspace. Without the read-and-write
// capability go-git writes refs with Create too (setRefNorwfs), instead of
// truncating them in place.
type atomicFS struct{ billy.Filesystem }

// Capabilities is the wrapped filesystem's, without read-and-write.
func (a atomicFS) Capabilities() billy.Capability {
	return billy.Capabilities(a.Filesystem) &^ billy.ReadAndWriteCapability
}

// Create opens a temporary file beside name; Close puts it in place.
func (a atomicFS) Create(name string) (billy.File, error) {
	tmp, err := a.Filesystem.TempFile(path.Dir(name), ".tmp-"+path.Base(name)+"-")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: tmp, fs: a.Filesystem, name: name}, nil
}

// atomicFile is a file being written aside for name.
type atomicFile struct {
	billy.File
	fs     billy.Filesystem
	name   string
	failed error
}

func (f *atomicFile) Name() string { return f.name }

func (f *atomicFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if err != nil && f.failed == nil {
		f.failed = err
	}
	return n, err
}

// Close syncs the file and renames it into place, unless a write failed:
// then the temporary file goes and name is left as it was.
func (f *atomicFile) Close() error {
	tmp := f.File.Name()
	err := f.failed
	if s, ok := f.File.(interface{ Sync() error }); ok && err == nil {
		err = s.Sync()
	}
	err = errors.Join(err, f.File.Close())
	if err != nil {
		_ = f.fs.Remove(tmp)
		return fmt.Errorf("write %s: %w", f.name, err)
	}
	return f.fs.Rename(tmp, f.name)
}
