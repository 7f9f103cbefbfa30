package workspace

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncTree makes a new checkout durable before it is renamed into place and
// recorded: syncfs(2) on its file system writes back every file the clone
// wrote (one call, not one fsync per file). With the rename and the record
// synced after it, a power cut leaves either no record (the checkout is
// cloned again) or a record of a whole checkout: a turn never runs on a
// torn one.
func syncTree(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync checkout: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync checkout %s: %w", dir, err)
	}
	return nil
}
