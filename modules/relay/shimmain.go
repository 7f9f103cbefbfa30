package relay

import (
	"fmt"
	"io"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/spf13/pflag"
)

// ShimMain is the sandbox-shim command: args are what follows ShimCommand on
// the command line (--forward ADDR=SOCKET..., --deadline, --grace, --probe,
// then -- COMMAND ARGS...). It returns the exit code. Not for operators.
func ShimMain(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(ShimCommand, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	forwards := fs.StringArray("forward", nil, "ADDR=SOCKET: listen on the loopback ADDR, forward to the Unix SOCKET (repeatable)")
	deadline := fs.Duration("deadline", 0, "stop COMMAND (SIGTERM, --grace, SIGKILL) this long after the start and exit 124; 0 = never")
	grace := fs.Duration("grace", 10*time.Second, "time between SIGTERM and SIGKILL at the deadline")
	probe := fs.Bool("probe", false, "print that the shim starts and exit (the runner checks its shim with it)")
	keeper := fs.Bool("keeper", false, "be a kept sandbox's long-lived process: run the turns the runner asks for (sandbox.KeeperMain)")
	if err := fs.Parse(args); err != nil {
		return ShimExitSetup
	}
	if *keeper {
		return sandbox.KeeperMain(stderr)
	}
	if *probe {
		fmt.Fprintln(stdout, ShimProbeReply)
		return 0
	}
	var fw []Forward
	for _, s := range *forwards {
		f, err := ParseForward(s)
		if err != nil {
			fmt.Fprintf(stderr, "%s%v\n", ShimErrorPrefix, err)
			return ShimExitSetup
		}
		fw = append(fw, f)
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "%sa COMMAND is required after --\n", ShimErrorPrefix)
		return ShimExitSetup
	}
	return RunShim(ShimParams{Forwards: fw, Argv: fs.Args(), Stderr: stderr, Deadline: *deadline, Grace: *grace})
}
