package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/loopfs"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
	"golang.org/x/sys/unix"
)

// diskEvent is the disk_limit runner event of a message, if any.
func diskEvent(t *testing.T, items []orchestratortest.Item) (used, limit int64, ok bool) {
	t.Helper()
	for _, it := range items {
		if it.Event == nil {
			continue
		}
		var ev struct {
			Type, Subtype string
			Used, Limit   int64
		}
		if json.Unmarshal(it.Event.Event, &ev) == nil && ev.Type == rpc.EventTypeRunner && ev.Subtype == rpc.RunnerDiskLimit {
			return ev.Used, ev.Limit, true
		}
	}
	return 0, 0, false
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// On btrfs the file system enforces the limit: the agent's write past it
// fails with EDQUOT inside the sandbox, the stream says so, and another
// workspace on the same file system runs normally meanwhile.
func TestE2EDiskLimitBtrfs(t *testing.T) {
	mnt := loopfs.Mount(t, "btrfs", 512<<20).Dir
	free := freeBytes(t, mnt)
	e := newE2E(t, "disk-btrfs", "--workspace-dir", filepath.Join(mnt, "ws"), "--sandbox-disk", "32m", "--min-free-disk", "16m")
	e.d.waitLog(t, "btrfs-qgroup")

	e.send("m-full", "ws-full", "c-1", "PROBE fill /workspace/big 100m\nPROBE sleep 5s", nil)
	e.send("m-ok", "ws-ok", "c-2", "PROBE fill /workspace/small 4m", nil)
	e.waitEvent("m-full", "disk quota exceeded")
	full, ok := e.response("m-full"), e.response("m-ok")
	if r := result(t, ok); r.Status != rpc.StatusCompleted {
		t.Fatalf("the other workspace's turn: %+v", r)
	}
	if !bytes.Contains(eventsText(e.orch.Items(), "m-ok"), []byte(`\"bytes\":4194304`)) {
		t.Errorf("the other workspace could not write its 4 MiB:\n%s", eventsText(e.orch.Items(), "m-ok"))
	}
	result(t, full) // the agent saw the error and ended its turn normally
	used, limit, hit := diskEvent(t, orchestratortest.MessageOf(e.orch.Items(), "m-full"))
	if !hit || limit != 32<<20 || used > 40<<20 {
		t.Errorf("disk_limit event: hit %v used %d limit %d", hit, used, limit)
	}
	if lost := free - freeBytes(t, mnt); lost > 80<<20 {
		t.Errorf("the workspace file system lost %d MiB for a 32 MiB limit", lost>>20)
	}
	e.checkDelivery("m-full")

	// workspace.delete removes the subvolume too.
	e.call("del-1", "ws-full", rpc.MethodWorkspaceDelete, map[string]string{"workspaceId": "ws-full"})
	if _, err := os.Lstat(filepath.Join(mnt, "ws", "ws-full")); !os.IsNotExist(err) {
		t.Errorf("checkout subvolume left after workspace.delete: %v", err)
	}
}

// On ext4 without quotas the runner enforces the limit: it stops the turn
// with the disk reason; another workspace runs normally meanwhile.
func TestE2EDiskLimitRunner(t *testing.T) {
	mnt := loopfs.Mount(t, "ext4", 384<<20).Dir
	e := newE2E(t, "disk-runner", "--workspace-dir", filepath.Join(mnt, "ws"), "--sandbox-disk", "32m", "--min-free-disk", "16m")
	e.d.waitLog(t, `"mode": "runner"`)

	e.send("m-full", "ws-full", "c-1", "PROBE fill /workspace/big 100m\nPROBE sleep 60s", nil)
	e.send("m-ok", "ws-ok", "c-2", "PROBE fill /workspace/small 4m", nil)
	if r := result(t, e.response("m-ok")); r.Status != rpc.StatusCompleted {
		t.Fatalf("the other workspace's turn: %+v", r)
	}
	err := wantError(t, e.response("m-full"), rpc.CodeAgentFailed)
	if !strings.Contains(err.Message, "killed: disk limit 32 MiB") {
		t.Fatalf("error %q, want the disk reason", err.Message)
	}
	used, limit, hit := diskEvent(t, orchestratortest.MessageOf(e.orch.Items(), "m-full"))
	if !hit || limit != 32<<20 || used <= 32<<20 {
		t.Errorf("disk_limit event: hit %v used %d limit %d", hit, used, limit)
	}
	e.checkDelivery("m-full")
	ping := e.call("ping-1", "", rpc.MethodRunnerPing, map[string]any{})
	if !bytes.Contains(ping.Result, []byte(`"workspaceId":"ws-full"`)) || !bytes.Contains(ping.Result, []byte(`"mode":"runner"`)) {
		t.Errorf("runner.ping shows no disk use: %s", ping.Result)
	}
}

// Below --min-free-disk no turn starts: it stays queued with the reason,
// /readyz says why, and it runs by itself once space is back.
func TestE2EFreeSpaceFloor(t *testing.T) {
	mnt := loopfs.Mount(t, "ext4", 128<<20).Dir
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, bytes.Repeat([]byte("x"), 80<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, "disk-floor", "--workspace-dir", filepath.Join(mnt, "ws"), "--min-free-disk", "64m")
	body := e.d.waitHTTP(t, "/readyz", http.StatusServiceUnavailable)
	if !strings.Contains(body, "--min-free-disk") {
		t.Fatalf("/readyz does not say why: %s", body)
	}
	e.send("m-1", "ws-1", "c-1", "PROBE report", nil)
	e.orch.WaitFor(t, e2eWait, func(items []orchestratortest.Item) bool {
		for _, it := range orchestratortest.MessageOf(items, "m-1") {
			if it.State != nil && it.State.State == rpc.StateQueued && strings.Contains(it.State.Reason, "--min-free-disk") {
				return true
			}
		}
		return false
	})
	if states := statesOf(orchestratortest.MessageOf(e.orch.Items(), "m-1")); strings.Join(states, ",") != "queued,queued" {
		t.Fatalf("states while the disk is full: %v", states)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if r := result(t, e.response("m-1")); r.Status != rpc.StatusCompleted {
		t.Fatalf("turn after space came back: %+v", r)
	}
	e.d.waitHTTP(t, "/readyz", http.StatusOK)
	e.checkDelivery("m-1")
}

// eventsText is the events of a message, concatenated.
func eventsText(items []orchestratortest.Item, msgID string) []byte {
	var b bytes.Buffer
	for _, it := range orchestratortest.MessageOf(items, msgID) {
		if it.Event != nil {
			b.Write(it.Event.Event)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
