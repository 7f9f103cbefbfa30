package sandbox_test

import "testing"

func TestSmoke(t *testing.T) {
	e := startManager(t, testConfig(t))
	r := e.run(e.spec("ws-smoke", "PROBE report\nPROBE write /workspace/hello.txt hi there\n"))
	lines, st := collect(t, r)
	for _, l := range lines {
		t.Logf("line %d trunc=%v: %.400s", len(l.Data), l.Truncated, l.Data)
	}
	t.Logf("status %+v stderr %q", st, r.StderrTail())
}
