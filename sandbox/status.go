package sandbox

import (
	"fmt"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

// StopKind says why a sandbox run ended.
type StopKind string

// Why a run ended. Exited covers every exit the runner did not cause,
// whatever the code; the others name the cause.
const (
	Exited      StopKind = "exited"
	OOMKilled   StopKind = "oom-killed"
	TimedOut    StopKind = "timed-out"
	Cancelled   StopKind = "cancelled"
	OutputLimit StopKind = "output-limit"
	Failed      StopKind = "failed"   // the engine failed us: the container vanished, wait or inspect errors
	Detached    StopKind = "detached" // the runner stopped following; the container is still running
	Unfinished  StopKind = "unfinished"
)

// Status is the honest end of a run: the exit code and the reason in words.
type Status struct {
	ExitCode int
	Kind     StopKind
	// Reason in words: "exited with code 3", "killed: memory limit 2 GiB reached",
	// "stopped: turn timeout 30m", "stopped: cancelled", "stopped: output limit".
	// A process limit reached during the run is added in brackets.
	Reason string
	// CancelReason is what the caller gave to Cancel, when it did.
	CancelReason string
	// PidsLimitHit reports that forks failed on the process limit during the run
	// (seen in the container's pids cgroup while it ran).
	PidsLimitHit bool
	// OOMEvents is the number of processes the kernel killed on the memory
	// limit during the run, when the cgroup could be read; State.OOMKilled
	// alone sets Kind OOMKilled.
	OOMEvents int64
	// OutputBytes is the stdout and stderr the run produced, as read.
	OutputBytes int64
	// Duration is from start to exit, as the engine saw it, when known.
	Duration time.Duration
}

// OK reports a clean exit with code 0.
func (s Status) OK() bool { return s.Kind == Exited && s.ExitCode == 0 }

// limits is what the reason texts name.
type limits struct {
	memory  config.ByteSize
	pids    int64
	timeout time.Duration
}

// finalStatus builds the Status of a run from what the runner did (stopKind,
// empty when it did nothing) and what the engine reports.
func finalStatus(stopKind StopKind, exitCode int, oomKilled bool, ev cgroupEvents, lim limits) Status {
	st := Status{ExitCode: exitCode, Kind: stopKind, PidsLimitHit: ev.pidsMax > 0, OOMEvents: ev.oomKills}
	switch stopKind {
	case TimedOut:
		st.Reason = "stopped: turn timeout " + config.FormatDuration(lim.timeout)
	case Cancelled:
		st.Reason = "stopped: cancelled"
	case OutputLimit:
		st.Reason = "stopped: output limit"
	default:
		switch {
		case oomKilled && exitCode != 0:
			st.Kind = OOMKilled
			st.Reason = "killed: memory limit " + lim.memory.Human() + " reached"
		default:
			st.Kind = Exited
			st.Reason = fmt.Sprintf("exited with code %d", exitCode)
			if oomKilled || ev.oomKills > 0 {
				st.Reason += " (memory limit " + lim.memory.Human() + " reached, a process was killed)"
			}
		}
	}
	if st.PidsLimitHit {
		st.Reason += fmt.Sprintf(" (process limit %d reached)", lim.pids)
	}
	return st
}
