package sandbox

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// Run is one sandbox container being followed: its stdout as lines, a tail
// of its stderr, and its final Status.
type Run struct {
	m           *Manager
	id          string
	workspaceID string
	messageID   string
	timeout     time.Duration
	deadline    time.Time
	stream      *stream
	src         io.Closer // the attach connection or the log reader
	keep        bool      // the ended container stays until Remove (Spec.Keep)

	// A turn in a kept sandbox (warm.go): its sandbox, its name in the
	// keeper, the cgroup counters before it, when it started.
	box     *box
	turn    string
	base    cgroupEvents
	started time.Time

	stopReq  chan StopKind // the runner wants it stopped
	detachCh chan struct{}
	detach   sync.Once
	cancelMu sync.Mutex
	cancelBy string

	done   chan struct{}
	status Status
}

// Lines delivers stdout line by line and is closed when the output ends (or
// the run is detached). Read it until closed: the final Status waits for
// every line to be delivered, and a consumer that stops reading stops the
// container's output (it is never dropped).
func (r *Run) Lines() <-chan Line { return r.stream.lines }

// ContainerID is the engine's id of the container.
func (r *Run) ContainerID() string { return r.id }

// WorkspaceID is the workspace the run belongs to.
func (r *Run) WorkspaceID() string { return r.workspaceID }

// StderrTail returns the last 64 KiB of the run's stderr so far.
func (r *Run) StderrTail() []byte { return r.stream.stderr.Bytes() }

// Done is closed when the final Status is known.
func (r *Run) Done() <-chan struct{} { return r.done }

// Wait returns the final Status once the container is gone and every line was
// delivered, or a Status of Kind Unfinished when ctx ends first (the run goes on).
func (r *Run) Wait(ctx context.Context) Status {
	select {
	case <-r.done:
		return r.status
	case <-ctx.Done():
		return Status{Kind: Unfinished, Reason: "still running: " + ctx.Err().Error(), ExitCode: -1}
	}
}

// Cancel stops the run: SIGTERM, the stop grace period, then SIGKILL; the
// container is removed and the Status says "stopped: cancelled". The reason
// is kept in Status.CancelReason and the log. Cancelling a finished run does
// nothing.
func (r *Run) Cancel(reason string) {
	r.cancelMu.Lock()
	if r.cancelBy == "" {
		r.cancelBy = reason
		if reason == "" {
			r.cancelBy = "cancelled"
		}
	}
	r.cancelMu.Unlock()
	r.requestStop(Cancelled)
}

// Detach stops following the run without stopping the container: Lines is
// closed, the Status is Detached, and the container keeps running for a later
// Attach.
func (r *Run) Detach() {
	r.detach.Do(func() { close(r.detachCh) })
}

func (r *Run) requestStop(kind StopKind) {
	select {
	case r.stopReq <- kind:
	case <-r.done:
	default: // a stop is already pending; the first reason wins
	}
}

// follow starts the goroutines of a run whose command is running (or has
// run): the stream over src and its supervisor (supervise, waiting on the
// engine; superviseKept, on the keeper).
func (m *Manager) follow(r *Run, src io.ReadCloser, supervise func()) {
	r.src = src
	m.metrics.started.Inc()
	m.metrics.running.Inc()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		r.stream.run(src)
	}()
	go func() {
		defer m.wg.Done()
		supervise()
	}()
}

// stopper is a supervisor's stop: the first kind asked for is kept in
// *kind and logged, and how stops the run in the background.
func (r *Run) stopper(kind *StopKind, how func()) func(StopKind) {
	m := r.m
	return func(k StopKind) {
		if *kind != "" {
			return
		}
		*kind = k
		m.log.Info("stopping sandbox", zap.String("workspace_id", r.workspaceID), zap.String("message_id", r.messageID),
			zap.String("container_id", r.id), zap.String("why", string(k)))
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			how()
		}()
	}
}

// supervise enforces the deadline, carries out stop requests, waits for the
// exit and the end of the output, then removes the container and publishes
// the Status.
func (r *Run) supervise(wait client.ContainerWaitResult) {
	var kind StopKind
	var events cgroupEvents
	stop := r.stopper(&kind, func() { r.m.stopContainer(r.id) })
	var waitErr error
	exited := make(chan struct{})
	go func() {
		select {
		case <-wait.Result:
		case waitErr = <-wait.Error:
		}
		close(exited)
	}()
	if r.watch(exited, stop, &events) {
		r.finish(kind, events, waitErr)
	}
}

// watch is a supervisor's loop: until ended is closed it enforces the
// deadline, carries out stop requests (stop) and samples the cgroup's
// counters into events; then it waits for the end of the output (it ends
// shortly after the command; a slow consumer delays it). false: the runner
// detached meanwhile, and the run is published so.
func (r *Run) watch(ended <-chan struct{}, stop func(StopKind), events *cgroupEvents) bool {
	timer := time.NewTimer(time.Until(r.deadline))
	defer timer.Stop()
	sample := time.NewTicker(sampleEvery)
	defer sample.Stop()
	caps := r.m.Capabilities()
	for {
		select {
		case <-ended:
			select {
			case <-r.stream.done:
				return true
			case <-r.detachCh:
				r.finishDetached()
				return false
			}
		case <-timer.C:
			stop(TimedOut)
		case k := <-r.stopReq:
			stop(k)
		case <-sample.C:
			*events = events.merge(readCgroupEvents(caps, r.id))
		case <-r.detachCh:
			r.finishDetached()
			return false
		}
	}
}

func (r *Run) finishDetached() {
	_ = r.src.Close()
	<-r.stream.done
	r.publish(Status{Kind: Detached, ExitCode: -1, Reason: "detached: the runner stopped following, the container is still running",
		OutputBytes: r.stream.total.Load()})
}

// finish reads the exit from the engine, removes the container (unless the
// caller keeps it: Spec.Keep) and publishes the Status.
func (r *Run) finish(kind StopKind, events cgroupEvents, waitErr error) {
	m := r.m
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = r.src.Close()
	events = events.merge(readCgroupEvents(m.Capabilities(), r.id))
	var st Status
	res, err := m.docker.ContainerInspect(ctx, r.id, client.ContainerInspectOptions{})
	switch {
	case err != nil:
		st = Status{Kind: Failed, ExitCode: -1, Reason: fmt.Sprintf("failed: sandbox container lost: %v", err)}
	case res.Container.State == nil || res.Container.State.Running:
		st = Status{Kind: Failed, ExitCode: -1, Reason: fmt.Sprintf("failed: waiting for the sandbox: %v", waitErr)}
	default:
		s := res.Container.State
		lim := limits{memory: m.cfg.Sandbox.Memory, pids: m.cfg.Sandbox.Pids, timeout: r.timeout}
		st = finalStatus(kind, s.ExitCode, s.OOMKilled, events, lim)
		st.Duration = runDuration(s.StartedAt, s.FinishedAt)
	}
	r.cancelMu.Lock()
	if st.Kind == Cancelled {
		st.CancelReason = r.cancelBy
	}
	r.cancelMu.Unlock()
	st.OutputBytes = r.stream.total.Load()
	if r.keep {
		r.publish(st)
		return
	}
	if err := m.remove(ctx, r.id); err != nil {
		m.log.Error("remove sandbox container", zap.String("workspace_id", r.workspaceID), zap.String("container_id", r.id), zap.Error(err))
	}
	r.publish(st)
}

func (r *Run) publish(st Status) {
	m := r.m
	r.status = st
	m.mu.Lock()
	if m.live[r.workspaceID] == r {
		delete(m.live, r.workspaceID)
	}
	m.mu.Unlock()
	m.metrics.running.Dec()
	m.metrics.finished.WithLabelValues(string(st.Kind)).Inc()
	m.metrics.output.Add(float64(st.OutputBytes))
	m.metrics.truncated.Add(float64(r.stream.truncated.Load()))
	if st.Duration > 0 {
		m.metrics.duration.Observe(st.Duration.Seconds())
	}
	m.log.Info("sandbox run ended", zap.String("workspace_id", r.workspaceID), zap.String("message_id", r.messageID),
		zap.String("container_id", r.id), zap.String("kind", string(st.Kind)), zap.Int("exit_code", st.ExitCode),
		zap.String("reason", st.Reason), zap.String("cancel_reason", st.CancelReason),
		zap.Int64("output_bytes", st.OutputBytes), zap.Duration("duration", st.Duration))
	close(r.done)
}

// stopContainer sends SIGTERM, waits the grace period, then SIGKILL.
func (m *Manager) stopContainer(id string) {
	grace := graceSeconds(m.cfg.Sandbox.StopGrace)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(grace)*time.Second+time.Minute)
	defer cancel()
	if _, err := m.docker.ContainerStop(ctx, id, client.ContainerStopOptions{Signal: "SIGTERM", Timeout: &grace}); err != nil && !errdefs.IsNotFound(err) {
		m.log.Warn("stop sandbox container", zap.String("container_id", id), zap.Error(err))
		if _, err := m.docker.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
			m.log.Error("kill sandbox container", zap.String("container_id", id), zap.Error(err))
		}
	}
}

func runDuration(started, finished string) time.Duration {
	s, err1 := time.Parse(time.RFC3339Nano, started)
	f, err2 := time.Parse(time.RFC3339Nano, finished)
	if err1 != nil || err2 != nil || f.Before(s) {
		return 0
	}
	return f.Sub(s)
}

// newRun builds a Run that is not yet followed.
func (m *Manager) newRun(id, workspaceID, messageID string, timeout time.Duration, deadline time.Time, skip int64) *Run {
	r := &Run{m: m, id: id, workspaceID: workspaceID, messageID: messageID, timeout: timeout, deadline: deadline,
		stopReq: make(chan StopKind, 1), detachCh: make(chan struct{}), done: make(chan struct{})}
	r.stream = newStream(int64(m.cfg.Sandbox.LineLimit), int64(m.cfg.Sandbox.OutputLimit), skip, r.detachCh,
		func() { r.requestStop(OutputLimit) })
	return r
}

// sampleEvery is how often a running container's cgroup counters are read:
// the kernel drops them with the cgroup when the container ends.
const sampleEvery = 250 * time.Millisecond

// waitCondition is what the supervisor waits for.
var waitCondition = container.WaitConditionNextExit
