// Package version holds the build's version, set by the linker:
// -X github.com/claudette-dev/claudette-runner/modules/version.Version=v1.2.3 (and Commit, Date).
// It must not depend on anything.
package version

import (
	"fmt"
	"runtime"
)

// Set at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// String is the one-line version the CLI prints.
func String() string {
	return fmt.Sprintf("claudette-runner %s (commit %s, built %s, %s)", Version, Commit, Date, runtime.Version())
}
