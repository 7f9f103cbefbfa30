package reporter

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// A failed sync of the first commit of a fresh segment (EIO from a failing
// disk) must not leave two segments with one file name: the sender, once
// past the empty one, would unlink the live tail and everything appended to
// it after. Disks do not fail fdatasync on demand, so the sync is made to
// fail here; the file system is the real one.
func TestFailedSyncOfFreshSegmentKeepsTheTail(t *testing.T) {
	dir := t.TempDir()
	ob, _, err := openOutbox(dir, 1<<20, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	failOnce := true
	syncSegment = func(f *os.File) error {
		if failOnce {
			failOnce = false
			return syscall.EIO
		}
		return fdatasync(f)
	}
	t.Cleanup(func() { syncSegment = fdatasync })
	item := func(seq int64) []*commitReq {
		return []*commitReq{{items: []Item{Event(rpc.EventParams{MessageID: "m", WorkspaceID: "w", ConversationID: "c", Seq: seq, Event: []byte(`{}`)})}}}
	}
	if _, err := ob.appendItems(item(1), time.Now()); !errors.Is(err, syscall.EIO) {
		t.Fatalf("first commit: %v, want EIO", err)
	}
	if last, err := ob.appendItems(item(1), time.Now()); err != nil || last != 1 {
		t.Fatalf("commit after the failed sync: last %d, %v", last, err)
	}
	// The sender delivers item 1 and moves to the end of the log.
	tail := ob.segs[len(ob.segs)-1]
	ob.release(position{seg: tail, off: tail.size.Load()}, 2)
	if last, err := ob.appendItems(item(2), time.Now()); err != nil || last != 2 {
		t.Fatalf("commit after delivery: last %d, %v", last, err)
	}
	if err := ob.close(); err != nil {
		t.Fatal(err)
	}
	again, st, err := openOutbox(dir, 1<<20, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer again.close()
	if st.count != 1 || st.last != 2 {
		t.Fatalf("reopened outbox holds %d items up to id %d, want item 2 (the tail's file was removed)", st.count, st.last)
	}
}
