// Package failure is how one node's loop says that it cannot proceed. An
// error is logged once while it stays the same, and again every Repeat, so
// that `docker logs` shows that vault-init is still stuck on it without a
// line per round; a failed action is also sent as a Failed event (with
// Repeated when it was not logged again) and retried on the error backoff.
//
// A Reporter belongs to one node's loop: it is not safe for concurrent use.
package failure

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/setup"
)

// Reporter reports one node's errors. Fill every field before first use.
type Reporter struct {
	Log     *zap.Logger
	Clock   clock.Clock
	Emit    func(events.Event) // sends an event about the node
	Repeat  time.Duration      // how often an unchanged error is logged again
	Backoff *backoff.Backoff   // the wait after a failed action

	last   string    // the error last logged; "" after Reset
	lastAt time.Time // when it was
}

// Report logs err at error level: once while it stays the same, and again
// every Repeat. It says whether err was a repeat, logged at debug level
// only ("still failing").
func (r *Reporter) Report(err error) (repeated bool) {
	msg := err.Error()
	if msg != r.last || r.Clock.Since(r.lastAt) >= r.Repeat {
		r.Log.Error("vault-init cannot proceed; retrying", zap.Error(err))
		r.last, r.lastAt = msg, r.Clock.Now()
		return false
	}
	r.Log.Debug("still failing", zap.Error(err))
	return true
}

// Failed reports err and sends a Failed event for step; or a StepFailed
// event when err is a setup step's (a *setup.StepError: it names the
// step), so that one failure is one event.
func (r *Reporter) Failed(step string, err error) {
	repeated := r.Report(err)
	e := events.Event{Kind: events.Failed, Step: step, Error: err.Error(), Repeated: repeated}
	var se *setup.StepError
	if errors.As(err, &se) {
		e.Kind, e.Step = events.StepFailed, se.Step
	}
	r.Emit(e)
}

// Fail is Failed for an action, and returns the next wait of the error
// backoff. A cancellation is not reported: only vault-init's own stop
// cancels (request timeouts are deadlines), and a stop is not a failure.
// It still returns the backoff: the wait ends at once on a stop, and a
// cancellation that is not one still waits.
func (r *Reporter) Fail(step string, err error) time.Duration {
	if errors.Is(err, context.Canceled) {
		r.Log.Debug("stopping in the middle of a step", zap.Error(err))
		return r.Backoff.Next()
	}
	r.Failed(step, err)
	return r.Backoff.Next()
}

// Reset records a success: the error backoff starts again, and the next
// error is logged even when it is the last one again.
func (r *Reporter) Reset() {
	r.Backoff.Reset()
	r.last = ""
}
