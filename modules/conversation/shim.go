package conversation

import (
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"go.uber.org/zap"
)

// shimStatus adds what the sandbox's shim said to a run that exited with an
// error: the shim's own error (it could not start or set up the relay) joins
// the reason, so the answer and the log say why instead of "exited with code
// 2"; a shim that stopped the agent at the turn's deadline (no runner was
// watching) makes the run a timeout.
func (m *Manager) shimStatus(t *turnState, run *sandbox.Run, st sandbox.Status) sandbox.Status {
	if st.Kind != sandbox.Exited || st.ExitCode == 0 {
		return st
	}
	msg, deadline := relay.ShimReport(run.StderrTail(), st.ExitCode)
	if msg == "" {
		return st
	}
	turn := t.rec.Turn
	m.log.Warn("sandbox shim reported", zap.String("message_id", turn.MessageID), zap.String("workspace_id", turn.WorkspaceID),
		zap.Int("exit_code", st.ExitCode), zap.String("shim", msg))
	if deadline {
		st.Kind = sandbox.TimedOut
		st.Reason = "stopped: turn timeout " + config.FormatDuration(m.turnTimeout(turn.Options)) + " (by the sandbox's shim: " + msg + ")"
		return st
	}
	st.Reason += ": " + msg
	return st
}
