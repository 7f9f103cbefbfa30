package main

import (
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/version"
)

func validateCommand() *command {
	return &command{
		name:     "validate",
		summary:  "check the configuration (and the Docker engine, runtime and image) and print it, secrets masked",
		settings: true,
		run:      runValidate,
	}
}

// runValidate loads and checks the configuration exactly as start does, prints
// the effective configuration and every problem, and exits 0 or 1.
func runValidate(inv *invocation) int {
	cfg, problems := inv.loadConfig()
	problems = append(problems, cfg.Validate()...)
	fmt.Fprintf(inv.stdout, "%s\n\nEffective configuration:\n%s\n", version.String(), cfg)
	if len(problems) == 0 {
		fmt.Fprintln(inv.stdout, "OK: no problems found")
		return exitOK
	}
	fmt.Fprintf(inv.stdout, "%d problem(s):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(inv.stdout, "  %s\n", p)
	}
	return exitFailed
}
