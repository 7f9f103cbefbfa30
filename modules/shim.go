package modules

import (
	"os"

	"github.com/claudette-dev/claudette-runner/modules/relay"
)

// ShimMain runs the sandbox shim and exits when this process was started as
// one (its first argument is "sandbox-shim"); otherwise it returns at once.
// The runner installs its own executable as every sandbox's shim, so a
// program that embeds the runner calls ShimMain first in main (and a test
// binary in TestMain), before anything else; the claudette-runner CLI does.
func ShimMain() {
	if len(os.Args) > 1 && os.Args[1] == relay.ShimCommand {
		os.Exit(relay.ShimMain(os.Args[2:], os.Stdout, os.Stderr))
	}
}
