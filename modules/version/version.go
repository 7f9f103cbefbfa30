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
