package main

import (
	"fmt"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/spf13/pflag"
)

// shimCommand is the hidden command the runner's binary runs as inside a
// sandbox: it forwards loopback ports to the turn's relay sockets and runs the
// agent as its child (package relay, RunShim). Not for operators.
func shimCommand() *command {
	var forwards []string
	var probe bool
	var deadline, grace time.Duration
	return &command{
		name:    relay.ShimCommand,
		args:    "-- COMMAND [ARGS...]",
		summary: "inside a sandbox: forward loopback ports to the runner's sockets and run COMMAND",
		hidden:  true,
		flags: func(fs *pflag.FlagSet) {
			fs.StringArrayVar(&forwards, "forward", nil, "ADDR=SOCKET: listen on the loopback ADDR, forward to the Unix SOCKET (repeatable)")
			fs.DurationVar(&deadline, "deadline", 0, "stop COMMAND (SIGTERM, --grace, SIGKILL) this long after the start and exit 124; 0 = never")
			fs.DurationVar(&grace, "grace", 10*time.Second, "time between SIGTERM and SIGKILL at the deadline")
			fs.BoolVar(&probe, "probe", false, "print that the shim starts and exit (the runner checks its shim with it)")
		},
		run: func(inv *invocation) int {
			if probe {
				fmt.Fprintln(inv.stdout, relay.ShimProbeReply)
				return 0
			}
			var fw []relay.Forward
			for _, s := range forwards {
				f, err := relay.ParseForward(s)
				if err != nil {
					fmt.Fprintf(inv.stderr, "claudette-runner %s: %v\n", relay.ShimCommand, err)
					return relay.ShimExitSetup
				}
				fw = append(fw, f)
			}
			if len(inv.args) == 0 {
				fmt.Fprintf(inv.stderr, "claudette-runner %s: a COMMAND is required after --\n", relay.ShimCommand)
				return exitUsage
			}
			return relay.RunShim(relay.ShimParams{Forwards: fw, Argv: inv.args, Stderr: inv.stderr, Deadline: deadline, Grace: grace})
		},
	}
}
