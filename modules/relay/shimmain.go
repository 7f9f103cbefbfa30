package relay

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/spf13/pflag"
)

// ShimMain is the sandbox-shim command: args are what follows ShimCommand on
// the command line (--forward ADDR=SOCKET..., --deadline, --grace, --probe,
// then -- COMMAND ARGS...). It returns the exit code. Not for operators.
func ShimMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseShim(args, stderr)
	if err != nil {
		if !errors.Is(err, errShimFlags) {
			fmt.Fprintf(stderr, "%s%v\n", ShimErrorPrefix, err)
		}
		return ShimExitSetup
	}
	if o.keeper {
		return sandbox.KeeperMain(stderr, keeperPrepare)
	}
	if o.probe {
		fmt.Fprintln(stdout, ShimProbeReply)
		return 0
	}
	return RunShim(ShimParams{Forwards: o.forwards, Argv: o.argv, Stderr: stderr, Deadline: o.deadline, Grace: o.grace})
}

// shimArgs is a shim command line, read.
type shimArgs struct {
	forwards        []Forward
	deadline, grace time.Duration
	probe, keeper   bool
	argv            []string
}

// errShimFlags: the flags could not be read (the flag set said why).
var errShimFlags = errors.New("bad flags")

func parseShim(args []string, stderr io.Writer) (shimArgs, error) {
	fs := pflag.NewFlagSet(ShimCommand, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	forwards := fs.StringArray("forward", nil, "ADDR=SOCKET: listen on the loopback ADDR, forward to the Unix SOCKET (repeatable)")
	deadline := fs.Duration("deadline", 0, "stop COMMAND (SIGTERM, --grace, SIGKILL) this long after the start and exit 124; 0 = never")
	grace := fs.Duration("grace", 10*time.Second, "time between SIGTERM and SIGKILL at the deadline")
	probe := fs.Bool("probe", false, "print that the shim starts and exit (the runner checks its shim with it)")
	keeper := fs.Bool("keeper", false, "be a kept sandbox's long-lived process: run the turns the runner asks for (sandbox.KeeperMain)")
	if err := fs.Parse(args); err != nil {
		return shimArgs{}, fmt.Errorf("%w: %w", errShimFlags, err)
	}
	o := shimArgs{deadline: *deadline, grace: *grace, probe: *probe, keeper: *keeper, argv: fs.Args()}
	if o.keeper || o.probe {
		return o, nil
	}
	for _, s := range *forwards {
		f, err := ParseForward(s)
		if err != nil {
			return shimArgs{}, err
		}
		o.forwards = append(o.forwards, f)
	}
	if len(o.argv) == 0 {
		return shimArgs{}, errors.New("a COMMAND is required after --")
	}
	return o, nil
}

// keeperPrepare is the shim's work for a kept sandbox's turn, done inside
// its keeper: a turn's command line that runs this shim (the same program
// line as the keeper's own, up to ShimCommand) has its forwarders served by
// the keeper for the turn and its command started directly, which saves
// the start of a process as big as the runner on every turn. Any other
// command line runs as it is.
func keeperPrepare(argv []string) (sandbox.KeeperCommand, error) {
	self := slices.Index(os.Args, ShimCommand)
	if self < 0 || len(argv) <= self || !slices.Equal(argv[:self+1], os.Args[:self+1]) {
		return sandbox.KeeperCommand{Argv: argv}, nil
	}
	o, err := parseShim(argv[self+1:], io.Discard)
	if err == nil && (o.keeper || o.probe) {
		err = errors.New("a turn cannot run the keeper or the probe")
	}
	if err != nil {
		return sandbox.KeeperCommand{}, &sandbox.KeeperSetupError{Code: ShimExitSetup, Err: err}
	}
	stop, err := startForwards(o.forwards)
	if err != nil {
		return sandbox.KeeperCommand{}, &sandbox.KeeperSetupError{Code: ShimExitSetup, Err: err}
	}
	return sandbox.KeeperCommand{Argv: o.argv, Deadline: o.deadline, Grace: o.grace, Close: stop,
		DeadlineCode: ShimExitDeadline, DeadlineNote: deadlineNote(o.deadline)}, nil
}
