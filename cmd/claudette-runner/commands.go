package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/version"
	"github.com/spf13/pflag"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // start failure, bad configuration, failed turn
	exitUsage  = 2
)

// command is one subcommand of the CLI.
type command struct {
	name    string
	args    string // positional arguments in the usage line
	summary string
	// settings: the command reads the runner's settings (flags, env, file).
	settings bool
	// hidden: left out of the help (the sandbox shim).
	hidden bool
	// flags adds the command's own flags; run runs it after parsing.
	flags func(fs *pflag.FlagSet)
	run   func(inv *invocation) int
}

// invocation is one parsed command line.
type invocation struct {
	cmd    *command
	loader *config.Loader
	args   []string
	stdout io.Writer
	stderr io.Writer
}

func commands() []*command {
	return []*command{startCommand(), validateCommand(), execCommand(), healthcheckCommand(), versionCommand()}
}

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	cmd := cmds[0] // start is the default
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == args[0] })
		if i < 0 && args[0] != "help" {
			fmt.Fprintf(stderr, "claudette-runner: unknown command %q\nRun 'claudette-runner --help' for usage.\n", args[0])
			return exitUsage
		}
		if args[0] == "help" {
			writeHelp(stdout, cmds, nil)
			return exitOK
		}
		cmd, args = cmds[i], args[1:]
	}

	loader := config.NewLoader(cmd.name)
	fs := loader.FlagSet()
	help := fs.BoolP("help", "h", false, "show this help")
	showVersion := fs.BoolP("version", "V", false, "print the version and exit")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if err := loader.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			writeHelp(stdout, cmds, cmd)
			return exitOK
		}
		fmt.Fprintf(stderr, "claudette-runner %s: %v\nRun 'claudette-runner %s --help' for usage.\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	switch {
	case *help:
		writeHelp(stdout, cmds, cmd)
		return exitOK
	case *showVersion:
		fmt.Fprintln(stdout, version.String())
		return exitOK
	}
	if cmd.args == "" && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "claudette-runner %s: unexpected argument %q\nRun 'claudette-runner %s --help' for usage.\n", cmd.name, fs.Arg(0), cmd.name)
		return exitUsage
	}
	return cmd.run(&invocation{cmd: cmd, loader: loader, args: fs.Args(), stdout: stdout, stderr: stderr})
}

// writeHelp prints the usage of one command, or of the whole CLI when cmd is nil.
func writeHelp(w io.Writer, cmds []*command, cmd *command) {
	if cmd == nil || cmd.name == "start" {
		fmt.Fprintf(w, "claudette-runner runs Claude Code turns for an orchestrator, each in a hardened Docker sandbox.\n\n")
		fmt.Fprintf(w, "Usage:\n  claudette-runner [command] [flags]\n\nCommands:\n")
		for _, c := range cmds {
			if !c.hidden {
				fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
			}
		}
		fmt.Fprintf(w, "\nRun 'claudette-runner COMMAND --help' for a command's own flags.\n")
	}
	if cmd != nil {
		if cmd.name != "start" {
			fmt.Fprintf(w, "%s\n\nUsage:\n  claudette-runner %s [flags] %s\n", cmd.summary, cmd.name, cmd.args)
		}
		if cmd.flags != nil {
			fs := pflag.NewFlagSet(cmd.name, pflag.ContinueOnError)
			cmd.flags(fs)
			fmt.Fprintf(w, "\n%s flags:\n%s", cmd.name, fs.FlagUsages())
		}
	}
	fmt.Fprintf(w, "\nGlobal:\n  -h, --help                           show help\n  -V, --version                        print the version and exit\n")
	if cmd == nil || cmd.settings {
		config.WriteHelp(w)
		fmt.Fprintf(w, "\nPrecedence: defaults < config file < environment < flags. Sizes: 512m, 2g. Durations: 90s, 30m, 7d.\n")
	}
}

// loadConfig reads the settings of an invocation and returns them with every
// problem found while reading them.
func (inv *invocation) loadConfig() (*config.Config, config.Problems) {
	cfg, err := inv.loader.Load(config.Sources{})
	var problems config.Problems
	if err != nil && !errors.As(err, &problems) {
		problems = config.Problems{{Setting: "configuration", Message: err.Error()}}
	}
	return cfg, problems
}

func printProblems(w io.Writer, problems config.Problems) {
	for _, p := range problems {
		fmt.Fprintf(w, "claudette-runner: %s\n", p)
	}
}

func versionCommand() *command {
	return &command{name: "version", summary: "print the version", run: func(inv *invocation) int {
		fmt.Fprintln(inv.stdout, version.String())
		return exitOK
	}}
}
