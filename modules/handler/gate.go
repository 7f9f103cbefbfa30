package handler

import (
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/reporter"
	"github.com/claudette-dev/claudette-runner/sync"
)

// gate is the intake's sync.Gate: the runner takes new messages only while
// the turn manager can record turns and the reporter can store what they
// send (a full or failing data dir stops both).
type gate struct {
	turns    interface{ StorageErr() error }
	reporter interface{ StorageErr() error }
}

// NewGate returns the intake's gate over the turn manager and the reporter.
func NewGate(m *conversation.Manager, r *reporter.Reporter) sync.Gate {
	return &gate{turns: m, reporter: r}
}

// Accepting is nil while both can write.
func (g *gate) Accepting() error {
	if err := g.reporter.StorageErr(); err != nil {
		return err
	}
	return g.turns.StorageErr()
}
