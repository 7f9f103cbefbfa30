package main

import (
	"os"

	"github.com/claudette-dev/claudette-runner/modules"
)

func main() {
	modules.ShimMain() // inside a sandbox this process is the shim (package relay)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
