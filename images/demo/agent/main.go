package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
)

//go:embed help.txt
var helpText string

// hiddenSleep is the argv[1] of the children PROBE fork starts when no
// /bin/sleep exists.
const hiddenSleep = "__claudette-demo-sleep"

func main() {
	if len(os.Args) > 1 && os.Args[1] == hiddenSleep {
		sleepForever()
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	opts, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch {
	case opts.help:
		fmt.Print(helpText)
		return 0
	case opts.version:
		fmt.Println(Version + " (Claude Code)")
		return 0
	}
	if err := opts.checkUsage(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Geteuid() == 0 && opts.bypass() && os.Getenv("IS_SANDBOX") != "1" {
		fmt.Fprintln(os.Stderr, "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons")
		return 1
	}

	a := newAgent(opts, os.Stdout)
	a.handleSignals()

	if opts.inputFormat == "stream-json" {
		if code, done := a.startSession(); done {
			return code
		}
		return a.runStreamInput()
	}

	prompt := opts.prompt
	if !opts.hasPrompt {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: read stdin: %v\n", err)
			return 1
		}
		prompt = string(b)
	}
	if strings.TrimSpace(prompt) == "" {
		fmt.Fprintln(os.Stderr, "Error: Input must be provided either through stdin or as a prompt argument when using --print")
		return 1
	}
	if code, done := a.startSession(); done {
		return code
	}
	if a.runTurn(a.turnContext(), prompt, 0) {
		return 1
	}
	return 0
}

// startSession opens the session; done reports that the process must end
// with code (a refused flag combination or an unknown --resume id).
func (a *agent) startSession() (code int, done bool) {
	missing, err := a.openSession()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	if missing != "" {
		if a.opts.outputFormat != "text" {
			a.out.line(resumeMissingLine(missing))
		}
		fmt.Fprintln(os.Stderr, "No conversation found with session ID: "+missing)
		return 1, true
	}
	return 0, false
}
