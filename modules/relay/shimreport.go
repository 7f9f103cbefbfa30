package relay

import (
	"bytes"
	"strings"
)

// maxShimReport bounds the words taken from a sandbox's stderr.
const maxShimReport = 300

// ShimReport finds the shim's own words in the stderr tail of a sandbox that
// exited with code: its last line with ShimErrorPrefix (the relay could not
// be set up, the command does not exist, the deadline passed), or, when the
// shim (or the agent) could not start at all (the Go runtime's exit code 2, e.g. no thread
// under a tiny process limit), the runtime's first "runtime:" or "fatal
// error:" line. The text is made printable and bounded; "" when the shim said
// nothing. deadline reports that the shim stopped the command at the turn's
// deadline.
func ShimReport(stderr []byte, code int) (msg string, deadline bool) {
	lines := bytes.Split(stderr, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := bytes.CutPrefix(lines[i], []byte(ShimErrorPrefix)); ok {
			msg = strings.TrimSpace(printable(string(rest), maxShimReport))
			return "sandbox-shim: " + msg, code == ShimExitDeadline && strings.HasPrefix(msg, ShimDeadlineMessage)
		}
	}
	if code != 2 {
		return "", false
	}
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte("runtime: ")) || bytes.HasPrefix(l, []byte("fatal error: ")) {
			return "a sandbox process could not start: " + strings.TrimSpace(printable(string(l), maxShimReport)), false
		}
	}
	return "", false
}
