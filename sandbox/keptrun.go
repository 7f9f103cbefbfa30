package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// startKeptTurn records the turn (turn.json, with the cgroup counters
// before it), creates its files and asks the keeper to run it.
func (m *Manager) startKeptTurn(ctx context.Context, r *Run, b *box, s *Spec) error {
	turn := turnName(s.MessageID)
	out, status, err := m.turnFiles(s.WorkspaceID, turn)
	if err != nil {
		return err
	}
	defer out.Close()
	defer status.Close()
	stdin, err := m.stdinFile(s, turn)
	if err != nil {
		return err
	}
	defer stdin.Close()
	base := readCgroupEvents(m.Capabilities(), b.id)
	rec := keptTurnRecord{MessageID: s.MessageID, Turn: turn, Deadline: r.deadline, Timeout: r.timeout, Keep: s.Keep,
		PidsMax: base.pidsMax, OOMKills: base.oomKills}
	if err := m.writeTurnRecord(s.WorkspaceID, rec); err != nil {
		return err
	}
	req := keeperRequest{Op: "run", Turn: turn, Argv: s.Cmd, Env: s.Env}
	if _, err := m.keeperCall(ctx, s.WorkspaceID, req, []*os.File{stdin, out, status}, 30*time.Second); err != nil {
		return fmt.Errorf("%w: %w", errKeeperLost, err)
	}
	m.mu.Lock()
	b.msg = s.MessageID
	m.mu.Unlock()
	r.id, r.box, r.turn, r.base, r.started = b.id, b, turn, base, time.Now()
	return nil
}

// followKept follows a turn in a kept sandbox: its output file, its end as
// the keeper reports it.
func (m *Manager) followKept(r *Run, b *box) {
	ended := make(chan struct{})
	var src io.ReadCloser = io.NopCloser(strings.NewReader(""))
	out := filepath.Join(m.turnDir(b.ws, r.turn), "out")
	if f, err := os.Open(out); err == nil {
		src = newTailReader(f, out, &m.notify, ended)
	}
	m.follow(r, src, func() { r.superviseKept(ended) })
}

// keptEnd is how the keeper reported a turn's end; lost when it could not.
type keptEnd struct {
	exit keeperExit
	lost error
}

// waitKept waits for the keeper's report of the turn's end; when the
// keeper cannot be reached, its status file says it, or the turn is lost.
func (m *Manager) waitKept(ctx context.Context, r *Run) keptEnd {
	c, err := m.dialKeeper(ctx, r.workspaceID)
	if err == nil {
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		defer c.Close()
		if err = writeRequest(c, keeperRequest{Op: "wait", Turn: r.turn}, nil); err == nil {
			var rep keeperReply
			if rep, err = readReply(c); err == nil && rep.Exit != nil {
				return keptEnd{exit: *rep.Exit}
			}
			if err == nil {
				err = errors.New(rep.Error)
			}
		}
	}
	if ex, ok := m.readTurnStatus(r.workspaceID, r.turn); ok {
		return keptEnd{exit: ex}
	}
	return keptEnd{lost: err}
}

// superviseKept is supervise for a kept turn: the deadline, stop requests
// (to the keeper: SIGTERM to the turn, the grace, then every process but the
// keeper killed; the container itself only when the keeper does not
// answer), the cgroup counters, then the end.
func (r *Run) superviseKept(tailEnded chan struct{}) {
	m := r.m
	waitCtx, cancelWait := context.WithCancel(context.Background())
	defer cancelWait()
	var end keptEnd
	ended := make(chan struct{})
	go func() {
		end = m.waitKept(waitCtx, r)
		close(tailEnded) // the keeper wrote everything: the tail reads to the file's end
		close(ended)
	}()
	events := r.base
	var kind StopKind
	stop := r.stopper(&kind, func() {
		req := keeperRequest{Op: "stop", Turn: r.turn, Grace: m.cfg.Sandbox.StopGrace}
		if _, err := m.keeperCall(context.Background(), r.workspaceID, req, nil, 30*time.Second); err != nil {
			m.log.Warn("keeper cannot stop the turn; stopping the sandbox", zap.String("workspace_id", r.workspaceID), zap.Error(err))
			m.markUnhealthy(r.box)
			m.stopContainer(r.id)
		}
	})
	if r.watch(ended, stop, &events) {
		r.finishKept(kind, events.merge(readCgroupEvents(m.Capabilities(), r.id)), end)
	}
}

// finishKept builds the Status from the keeper's exit and what the cgroup
// counted during the turn (the difference from before it: the container
// outlives its turns), then hands the sandbox back (releaseBox) unless the
// caller keeps it until Remove.
func (r *Run) finishKept(kind StopKind, events cgroupEvents, end keptEnd) {
	m := r.m
	_ = r.src.Close()
	during := cgroupEvents{pidsMax: max(events.pidsMax-r.base.pidsMax, 0), oomKills: max(events.oomKills-r.base.oomKills, 0)}
	lim := limits{memory: m.cfg.Sandbox.Memory, pids: m.cfg.Sandbox.Pids, timeout: r.timeout}
	var st Status
	switch {
	case end.lost == nil:
		st = finalStatus(kind, end.exit.Code, during.oomKills > 0, during, lim)
	case during.oomKills > 0:
		m.markUnhealthy(r.box)
		st = finalStatus(kind, 137, true, during, lim)
	case kind != "":
		m.markUnhealthy(r.box)
		st = finalStatus(kind, 137, false, during, lim)
	default:
		m.markUnhealthy(r.box)
		st = Status{Kind: Failed, ExitCode: -1, Reason: fmt.Sprintf("failed: sandbox container lost: %v (%s)", end.lost, m.keeperWords(r.id))}
	}
	if !r.started.IsZero() {
		st.Duration = time.Since(r.started)
	}
	r.cancelMu.Lock()
	if st.Kind == Cancelled {
		st.CancelReason = r.cancelBy
	}
	r.cancelMu.Unlock()
	st.OutputBytes = r.stream.total.Load()
	m.mu.Lock()
	if r.box.state == boxBusy {
		r.box.state = boxHeld
	}
	m.mu.Unlock()
	if !r.keep {
		if err := m.releaseBox(r.box); err != nil {
			m.log.Error("release kept sandbox", zap.String("workspace_id", r.workspaceID), zap.String("container_id", r.id), zap.Error(err))
		}
	}
	r.publish(st)
}

// attachKept follows again the turn a kept sandbox runs or ran last
// (turn.json), after a restart: the output file from its start, skipLines
// dropped; its end from the keeper or its status file. A sandbox whose turn
// was recorded but never asked for ends at once with KeeperExitNotStarted.
func (m *Manager) attachKept(id, ws, msgLabel, hash string, skipLines int64) (*Run, error) {
	rec, ok := m.readTurnRecord(ws)
	if !ok {
		rec = keptTurnRecord{MessageID: msgLabel, Turn: "none", Timeout: m.cfg.TurnTimeout, Deadline: time.Now().Add(m.cfg.TurnTimeout), Keep: true}
	}
	r, err := m.reserve(ws, func() *Run {
		r := m.newRun(id, ws, rec.MessageID, rec.Timeout, rec.Deadline, skipLines)
		r.keep, r.turn = rec.Keep, rec.Turn
		r.base = cgroupEvents{pidsMax: rec.PidsMax, oomKills: rec.OOMKills}
		return r
	})
	if err != nil {
		return nil, err
	}
	b := &box{id: id, ws: ws, hash: hash, msg: rec.MessageID, state: boxBusy, healthy: true}
	m.mu.Lock()
	if old := m.boxes[ws]; old != nil && old.timer != nil {
		old.timer.Stop()
	}
	m.boxes[ws] = b
	m.mu.Unlock()
	r.box = b
	m.dropLeftover(id)
	m.log.Info("kept sandbox re-attached", zap.String("workspace_id", ws), zap.String("message_id", rec.MessageID),
		zap.String("container_id", id), zap.Int64("skip_lines", skipLines), zap.Time("deadline", rec.Deadline))
	m.followKept(r, b)
	return r, nil
}

// keptLeftoverMessage is the message a kept sandbox's current or last turn
// belongs to (its labels name the turn that started it).
func (m *Manager) keptLeftoverMessage(ws, label string) string {
	if rec, ok := m.readTurnRecord(ws); ok {
		return rec.MessageID
	}
	return label
}

func waitOptions() client.ContainerWaitOptions {
	return client.ContainerWaitOptions{Condition: waitCondition}
}

func startOptions() client.ContainerStartOptions { return client.ContainerStartOptions{} }

func (m *Manager) markUnhealthy(b *box) {
	m.mu.Lock()
	b.healthy = false
	m.mu.Unlock()
}
