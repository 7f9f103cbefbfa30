//go:build !linux

package reporter

import "os"

// fdatasync makes written data durable.
func fdatasync(f *os.File) error { return f.Sync() }
