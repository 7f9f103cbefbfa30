package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// agent is one CLI process: its flags, stdout and session.
type agent struct {
	opts        *options
	out         *emitter
	cwd         string
	model       string
	store       *store
	sess        *session
	resultIndex int
	inTurn      atomic.Bool

	mu     sync.Mutex
	cancel context.CancelFunc // of the running turn

	recMu sync.Mutex // transcript appends (the turn and the SIGINT handler)
}

func newAgent(opts *options, stdout io.Writer) *agent {
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "/"
	}
	return &agent{opts: opts, out: newEmitter(stdout), cwd: cwd, model: opts.modelName(), store: newStore(cwd)}
}

func (a *agent) streamJSON() bool { return a.opts.outputFormat == "stream-json" }

// emit writes a stream-json line (nothing in text and json output) and
// records it in the transcript when record is set.
func (a *agent) emit(line obj, record bool) {
	if record {
		a.record(line)
	}
	if a.streamJSON() {
		a.out.line(line)
	}
}

// record appends an entry to the session transcript.
func (a *agent) record(line obj) {
	a.recMu.Lock()
	defer a.recMu.Unlock()
	entry := obj{"parentUuid": nilIfEmpty(a.sess.parent), "isSidechain": false, "userType": "external",
		"cwd": a.cwd, "sessionId": a.sess.id, "version": Version}
	for k, v := range line {
		entry[k] = v
	}
	if id, ok := line["uuid"].(string); ok {
		a.sess.parent = id
	}
	a.sess.append(entry)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// turnContext returns the context of the next turn, cancelled by an
// interrupt control request.
func (a *agent) turnContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	a.cancel = cancel
	a.mu.Unlock()
	return ctx
}

// interrupt cancels the running turn, if any.
func (a *agent) interrupt() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
	}
}

// handleSignals gives SIGTERM and SIGINT the CLI's behaviour: SIGTERM exits
// 143 at once, SIGINT prints "[Request interrupted by user]" when a turn is
// running and exits 0; neither prints a result line.
func (a *agent) handleSignals() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			if s == syscall.SIGTERM {
				a.out.finish(time.Second, nil)
				os.Exit(143)
			}
			a.out.finish(time.Second, func(w *bufio.Writer) {
				if a.inTurn.Load() && a.sess != nil && a.streamJSON() {
					line := a.interruptedLine()
					a.record(line)
					writeJSONLine(w, line)
				}
			})
			os.Exit(0)
		}
	}()
}
