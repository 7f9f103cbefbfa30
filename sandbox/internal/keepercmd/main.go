// Command keepercmd is a kept sandbox's keeper on its own (sandbox.KeeperMain),
// built static by the sandbox package's tests; the runner's binary is the
// keeper in production (`sandbox-shim --keeper`).
package main

import (
	"os"

	"github.com/claudette-dev/claudette-runner/sandbox"
)

func main() { os.Exit(sandbox.KeeperMain(os.Stderr, nil)) }
