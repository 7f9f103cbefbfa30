package workspace

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// within reports whether p, once cleaned, is strictly inside root.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// treeSize sums the sizes of the regular files under dir, symlinks not followed.
func treeSize(ctx context.Context, dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// owner is the sandbox user a checkout is handed to.
type owner struct{ uid, gid int }

// chownTree gives every entry under dir (symlinks themselves, never their
// targets) to o.
func (o *owner) chownTree(dir string) error {
	if o == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, o.uid, o.gid)
	})
}

func (o *owner) chown(p string) error {
	if o == nil {
		return nil
	}
	return os.Lchown(p, o.uid, o.gid)
}
