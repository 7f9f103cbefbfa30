package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/retry"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// run follows the shape until ctx ends: one request at a time, each answer
// journaled and dispatched before the next request.
func (i *Intake) run(ctx context.Context, st *stream) {
	var fails streak
	refetches, stalls := 0, 0
	everReady := false
	for ctx.Err() == nil {
		began := time.Now()
		res, err := st.fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil && res.refetch {
			refetches++
			i.m.refetches.Inc()
			old := st.pos.Handle
			st.mustRefetch(res.handle)
			i.log.Info("electric shape must be refetched; reading it again from the start",
				zap.String("old_handle", old), zap.String("handle", st.pos.Handle), zap.Int("in_a_row", refetches))
			// The first 409s are retried at once; a storm of them is paced.
			if refetches > 2 {
				retry.Sleep(ctx, i.p.Backoff.Delay(refetches-2, 0))
			}
			continue
		}
		if err == nil {
			before := st.pos
			err = i.accept(ctx, st, res)
			if err == nil {
				refetches = 0
				fails.recovered(i.log, i.m)
				if res.upToDate {
					i.m.upToDate()
					i.ready.Ready()
					if !everReady {
						everReady = true
						i.log.Info("electric shape is up to date", zap.String("handle", st.pos.Handle), zap.String("offset", st.pos.Offset))
					}
				}
				retry.Sleep(ctx, i.pace(res, began, before, &stalls))
				continue
			}
		}
		retry.Sleep(ctx, i.failed(st, &fails, err, everReady))
	}
}

// pace is the wait before the next request after a good answer: none, except
// for a live request that brought nothing sooner than MinLivePoll, or
// non-live answers that do not move (PROTOCOL 2 "fast-loop guard").
func (i *Intake) pace(res *response, began time.Time, before position, stalls *int) time.Duration {
	if res.live {
		*stalls = 0
		if len(res.changes) == 0 {
			return i.p.MinLivePoll - time.Since(began)
		}
		return 0
	}
	if res.upToDate || len(res.changes) > 0 || res.next != before {
		*stalls = 0
		return 0
	}
	if *stalls++; *stalls < 3 {
		return 0
	}
	i.log.Warn("electric answers without moving; slowing down", zap.String("offset", res.next.Offset), zap.Int("in_a_row", *stalls))
	return i.p.Backoff.Delay(*stalls-2, 0)
}

// streak is a run of failed requests, logged once when it starts (or changes
// kind) and once when it ends, with the attempt count.
type streak struct {
	n     int
	kind  string
	since time.Time // the streak's first failure
}

func (s *streak) recovered(log *zap.Logger, m *metrics) {
	if s.n > 0 {
		log.Info("electric requests succeed again", zap.Int("attempts", s.n+1), zap.String("after", s.kind))
	}
	s.n, s.kind, s.since = 0, "", time.Time{}
	m.failures.Set(0)
	m.lastOK.SetToCurrentTime()
}

// failed classifies a failure, updates readiness and returns the wait before
// the next attempt.
func (i *Intake) failed(st *stream, s *streak, err error, everReady bool) time.Duration {
	if s.n == 0 {
		s.since = time.Now()
	}
	s.n++
	i.m.failures.Set(float64(s.n))
	kind, level, wait, floor := "network", zapcore.WarnLevel, time.Duration(-1), time.Duration(0)
	var (
		se    *statusError
		pe    *protocolError
		stale *staleError
		je    *journalError
		re    *refusedError
	)
	switch {
	case errors.As(err, &re):
		kind, level = "refused", zapcore.ErrorLevel
		wait = min(i.p.Backoff.Delay(s.n, 0), refusedRetryCap)
		i.ready.NotReady(clip(re.Error(), 300))
	case errors.As(err, &je):
		kind, level = "journal", zapcore.ErrorLevel
	case errors.As(err, &stale):
		kind = "stale"
		st.staleResponse()
	case errors.As(err, &pe):
		kind, level = "protocol", zapcore.ErrorLevel
		i.ready.NotReady(fmt.Sprintf("electric answer unusable: %s (is a proxy dropping electric-* headers?)", pe.detail))
	case errors.As(err, &se):
		floor = se.retryAfter
		switch {
		case se.code == http.StatusUnauthorized || se.code == http.StatusForbidden:
			kind, level, wait = "auth", zapcore.ErrorLevel, i.p.SlowRetry
			i.ready.NotReady(i.authReason(se))
		case se.positionProblem():
			// The saved position is no good here (e.g. offset out of bounds):
			// read the shape again; the journal keeps dispatch at most once.
			kind = "position"
			st.restart()
		case se.code == http.StatusRequestTimeout || se.code == http.StatusTooManyRequests:
			kind = "throttled"
		case se.code >= 500 || se.code < 400:
			kind = "server"
		default:
			kind, level, wait = "rejected", zapcore.ErrorLevel, i.p.SlowRetry
			i.ready.NotReady(i.rejectReason(se))
		}
	}
	if wait < 0 {
		wait = i.p.Backoff.Delay(s.n, floor)
	} else {
		wait = max(wait, floor)
	}
	if !everReady && (kind == "network" || kind == "server" || kind == "throttled") {
		i.ready.NotReady("electric not reachable yet: " + clip(err.Error(), 200))
	} else if d := time.Since(s.since); d >= i.p.UnreadyAfter && (kind == "network" || kind == "server" || kind == "throttled" || kind == "stale") {
		i.ready.NotReady(fmt.Sprintf("every electric request failed for %s (%d attempts), last: %s", d.Round(time.Second), s.n, clip(err.Error(), 200)))
	}
	i.m.retries.WithLabelValues(kind).Inc()
	if s.n > 1 && s.kind == kind {
		level = zapcore.DebugLevel
	}
	s.kind = kind
	i.log.Check(level, "electric request failed; retrying").Write(
		zap.String("reason", kind), zap.Int("attempt", s.n), zap.Duration("retry_in", wait), zap.Error(err))
	return wait
}

func (i *Intake) authReason(se *statusError) string {
	if se.code == http.StatusUnauthorized {
		return "electric rejected the runner token (HTTP 401): check CLAUDETTE_RUNNER_TOKEN and the auth proxy's credentials"
	}
	return fmt.Sprintf("electric or its auth proxy refused runner %q (HTTP 403): check that the token is allowed to read this runner id", i.cfg.RunnerID)
}

func (i *Intake) rejectReason(se *statusError) string {
	detail := ""
	if se.message != "" {
		detail = ": " + se.message
	}
	switch se.code {
	case http.StatusBadRequest:
		return fmt.Sprintf("electric rejected the shape request (HTTP 400%s): check runner id %q and that table %s exists and is synced", detail, i.cfg.RunnerID, table)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Sprintf("no Electric shape API at the configured URL (HTTP %d): check --electric-url", se.code)
	}
	return fmt.Sprintf("electric or its proxy rejected the shape request (HTTP %d%s)", se.code, detail)
}
