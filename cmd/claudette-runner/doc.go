// Command claudette-runner runs Claude Code turns for an orchestrator, one
// hardened Docker sandbox per workspace; see README.md. This package is the
// CLI only: commands, flags, signals and exit codes. What the daemon does is
// the modules.App it starts, shared with programs that embed the runner.
package main
