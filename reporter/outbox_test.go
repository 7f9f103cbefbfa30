package reporter_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

func segments(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "outbox", "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// The log rolls to new segment files and deletes the delivered ones; a
// restart in the middle of several segments goes on where delivery stopped.
func TestSegmentsRollAndDeliveredOnesAreRemoved(t *testing.T) {
	orch := newOrchestrator(t)
	dir := t.TempDir()
	tn := fastTuning
	tn.SegmentBytes = 8 << 10
	tn.BatchItems = 7
	first := start(t, orch, dir, withTuning(tn))
	for c := int64(0); c < 30; c++ {
		first.send(events("m", c*10+1, c*10+10)...)
	}
	first.flush()
	if n := len(segments(t, dir)); n > 2 {
		t.Fatalf("%d segments left after everything was delivered", n)
	}

	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})
	for c := int64(30); c < 40; c++ {
		first.send(events("m", c*10+1, c*10+10)...)
	}
	if n := len(segments(t, dir)); n < 3 {
		t.Fatalf("only %d segments for a backlog of 100 items of 8 KiB segments", n)
	}
	first.stop(100 * time.Millisecond)

	orch.SetDefault(orchestratortest.Reply{})
	second := start(t, orch, dir, withTuning(tn))
	second.send(events("m", 401, 410)...)
	second.flush()
	expectKeys(t, keys(orch.Items()), eventKeys("m", 1, 410))
	if n := len(segments(t, dir)); n > 2 {
		t.Fatalf("%d segments left after the backlog was delivered", n)
	}
}

// A write torn by a crash at the end of the log is cut off at the next
// start; everything before it is delivered, and the log takes new items.
func TestTornTailIsCutOff(t *testing.T) {
	orch := newOrchestrator(t)
	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})
	dir := t.TempDir()
	first := start(t, orch, dir)
	first.send(events("m", 1, 20)...)
	first.stop(100 * time.Millisecond)

	segs := segments(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	before, err := os.Stat(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The start of a record of 1000 bytes, cut short.
	if _, err := f.Write([]byte{0xe8, 0x03, 0, 0, 1, 2, 3, 4, 21, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, '{', '"'}); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	orch.SetDefault(orchestratortest.Reply{})
	second := start(t, orch, dir)
	if n := len(second.logged("outbox: cutting off an incomplete write at the end of the log (a crash during a commit; those sends had not returned)")); n != 1 {
		t.Fatalf("%d warnings about the torn tail", n)
	}
	if after, err := os.Stat(segs[0]); err != nil || after.Size() != before.Size() {
		t.Fatalf("segment after recovery: %v bytes (was %d), %v", after.Size(), before.Size(), err)
	}
	second.send(events("m", 21, 25)...)
	second.flush()
	expectKeys(t, keys(orch.Items()), eventKeys("m", 1, 25))
}

// A damaged cursor costs duplicates, never items.
func TestDamagedCursorResendsRatherThanLoses(t *testing.T) {
	orch := newOrchestrator(t)
	dir := t.TempDir()
	first := start(t, orch, dir)
	first.send(events("m", 1, 10)...)
	first.flush()
	orch.SetDefault(orchestratortest.Reply{Status: http.StatusServiceUnavailable})
	first.send(events("m", 11, 20)...)
	first.stop(100 * time.Millisecond)

	if err := os.WriteFile(filepath.Join(dir, "outbox", "cursor"), []byte("garbage-garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	orch.SetDefault(orchestratortest.Reply{})
	second := start(t, orch, dir)
	second.flush()
	if p := orch.OrderProblems(); len(p) > 0 {
		t.Fatalf("order problems: %v", p)
	}
	got := map[string]bool{}
	for _, k := range keys(orch.Items()) {
		got[k] = true
	}
	for _, k := range eventKeys("m", 1, 20) {
		if !got[k] {
			t.Fatalf("%s lost", k)
		}
	}
}
