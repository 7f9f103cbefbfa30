package main

import (
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/spf13/pflag"
)

// shimCommand is the hidden command the runner's binary runs as inside a
// sandbox: it forwards loopback ports to the turn's relay sockets and runs the
// agent as its child (package relay, RunShim). Not for operators.
func shimCommand() *command {
	var forwards []string
	return &command{
		name:    relay.ShimCommand,
		args:    "-- COMMAND [ARGS...]",
		summary: "inside a sandbox: forward loopback ports to the runner's sockets and run COMMAND",
		hidden:  true,
		flags: func(fs *pflag.FlagSet) {
			fs.StringArrayVar(&forwards, "forward", nil, "ADDR=SOCKET: listen on the loopback ADDR, forward to the Unix SOCKET (repeatable)")
		},
		run: func(inv *invocation) int {
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
			return relay.RunShim(fw, inv.args, inv.stderr)
		},
	}
}
