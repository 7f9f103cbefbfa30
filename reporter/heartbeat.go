package reporter

import (
	"context"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
	"go.uber.org/zap"
)

// heartbeatLoop queues a runner.heartbeat at start and then every
// cfg.Outbox.HeartbeatInterval. Heartbeats are not stored in the outbox: only
// the latest one waits, in memory, and rides with the next batch.
func (r *Reporter) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.Outbox.HeartbeatInterval)
	defer t.Stop()
	for {
		r.beat()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reporter) beat() {
	it := heartbeat(r.currentStatus())
	if it.err != nil {
		r.log.Error("build heartbeat", zap.Error(it.err))
		return
	}
	r.hb.Store(&it)
	select {
	case r.hbWake <- struct{}{}:
	default:
	}
}

// currentStatus is the status function's figures with this runner's id and version.
func (r *Reporter) currentStatus() rpc.RunnerStatus {
	st := rpc.RunnerStatus{Capacity: r.cfg.MaxConcurrent}
	if fn := r.status.Load(); fn != nil {
		st = (*fn)()
	}
	if st.RunnerID == "" {
		st.RunnerID = r.cfg.RunnerID
	}
	if st.Version == "" {
		st.Version = r.version
	}
	return st
}
