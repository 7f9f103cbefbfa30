// Command claudette-runner runs Claude Code turns for an orchestrator, one
// hardened Docker sandbox per workspace. See README.md.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
