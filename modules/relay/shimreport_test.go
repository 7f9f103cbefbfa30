package relay

import (
	"strings"
	"testing"
)

func TestShimReport(t *testing.T) {
	cases := map[string]struct {
		stderr   string
		code     int
		want     string
		deadline bool
	}{
		"setup failure": {stderr: "agent noise\n" + ShimErrorPrefix + "cannot reach the runner at /run/claudette/model.sock: no such file\n",
			code: ShimExitSetup, want: "sandbox-shim: cannot reach the runner at /run/claudette/model.sock: no such file"},
		"deadline": {stderr: ShimErrorPrefix + ShimDeadlineMessage + " (13s): stopped the agent, no runner did\n",
			code: ShimExitDeadline, want: "sandbox-shim: " + ShimDeadlineMessage, deadline: true},
		"deadline words, other code": {stderr: ShimErrorPrefix + ShimDeadlineMessage + "\n", code: 1, want: ShimDeadlineMessage},
		"runtime cannot start": {stderr: "runtime: failed to create new OS thread (have 4 already; errno=11)\nfatal error: newosproc\n",
			code: 2, want: "could not start: runtime: failed to create new OS thread"},
		"runtime words, other code": {stderr: "runtime: something\n", code: 1},
		"agent's own error":         {stderr: "Error: boom\n", code: 1},
		"control characters":        {stderr: ShimErrorPrefix + "bad \x1b[2J\x07 bytes\n", code: ShimExitSetup, want: "bad ?[2J? bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			msg, deadline := ShimReport([]byte(c.stderr), c.code)
			if (c.want == "") != (msg == "") || !strings.Contains(msg, c.want) || deadline != c.deadline {
				t.Errorf("ShimReport = %q, %v; want %q, %v", msg, deadline, c.want, c.deadline)
			}
		})
	}
}
