package failure

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	testclock "k8s.io/utils/clock/testing"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/setup"
)

func newReporter() (*Reporter, *observer.ObservedLogs, *events.Recorder, *testclock.FakeClock) {
	core, logs := observer.New(zapcore.DebugLevel)
	rec := &events.Recorder{}
	clk := testclock.NewFakeClock(time.Now())
	r := &Reporter{Log: zap.New(core), Clock: clk, Emit: rec.Event, Repeat: time.Minute,
		Backoff: backoff.New(time.Second, 8*time.Second)}
	return r, logs, rec, clk
}

// errorLines counts the error-level lines.
func errorLines(logs *observer.ObservedLogs) int {
	return logs.FilterLevelExact(zapcore.ErrorLevel).Len()
}

func TestReportOnceWhileTheSameAndAgainAfterRepeat(t *testing.T) {
	r, logs, _, clk := newReporter()
	boom := errors.New("boom")
	if r.Report(boom) {
		t.Fatal("the first report is a repeat")
	}
	clk.Step(time.Minute - time.Second)
	if !r.Report(boom) {
		t.Fatal("the same error within Repeat is not a repeat")
	}
	if n := errorLines(logs); n != 1 {
		t.Fatalf("%d error lines within Repeat, want 1", n)
	}
	if r.Report(errors.New("other")) {
		t.Fatal("another error is a repeat")
	}
	if r.Report(boom) {
		t.Fatal("the first error again after another is a repeat")
	}
	clk.Step(time.Minute)
	if r.Report(boom) {
		t.Fatal("the same error after Repeat is a repeat")
	}
	if n := errorLines(logs); n != 4 {
		t.Fatalf("%d error lines, want 4", n)
	}
	if n := logs.FilterMessage("still failing").Len(); n != 1 {
		t.Fatalf("%d \"still failing\" lines, want 1", n)
	}
}

func TestFailSendsFailedAndBacksOff(t *testing.T) {
	r, _, rec, _ := newReporter()
	var waits []time.Duration
	for range 2 {
		waits = append(waits, r.Fail("unseal", fmt.Errorf("unseal: %w", errors.New("bad key"))))
	}
	got := rec.Events()
	if len(got) != 2 || got[0].Kind != events.Failed || got[0].Step != "unseal" || got[0].Error != "unseal: bad key" ||
		got[0].Repeated || !got[1].Repeated {
		t.Fatalf("events %+v, want two Failed unseal, the second repeated", got)
	}
	if waits[0] > 1200*time.Millisecond || waits[1] < 1600*time.Millisecond {
		t.Fatalf("waits %v, want the backoff from 1s, doubling", waits)
	}
	r.Reset()
	if d := r.Fail("unseal", errors.New("unseal: bad key")); d > 1200*time.Millisecond {
		t.Fatalf("wait %v after Reset, want the backoff from its start", d)
	}
	if e := rec.Events()[2]; e.Repeated {
		t.Fatal("the error after Reset is a repeat")
	}
}

func TestFailIgnoresCancellation(t *testing.T) {
	r, logs, rec, _ := newReporter()
	if d := r.Fail("init", fmt.Errorf("init: %w", context.Canceled)); d <= 0 {
		t.Fatalf("wait %v on a cancellation, want the backoff", d)
	}
	if n := len(rec.Events()); n != 0 {
		t.Fatalf("%d events for a cancellation", n)
	}
	if n := errorLines(logs); n != 0 {
		t.Fatalf("%d error lines for a cancellation", n)
	}
}

func TestFailedWithoutBackoff(t *testing.T) {
	r, _, rec, _ := newReporter()
	r.Backoff = nil // Failed does not use it
	r.Failed("health", errors.New("check vault health: boom"))
	if e := rec.Events(); len(e) != 1 || e[0].Step != "health" || e[0].Repeated {
		t.Fatalf("events %+v, want one Failed health", e)
	}
}

// TestStepFailureIsOneStepFailedEvent: a setup step's failure is sent as
// StepFailed naming the step (not also as Failed), Repeated while it stays
// the same, and not at all when it is vault-init's own stop.
func TestStepFailureIsOneStepFailedEvent(t *testing.T) {
	r, _, rec, _ := newReporter()
	stepErr := &setup.StepError{Step: "audit", Err: errors.New("ensure audit device: permission denied")}
	for i := 0; i < 3; i++ {
		r.Fail("mount", fmt.Errorf("set up: %w", stepErr))
	}
	ev := rec.Events()
	if len(ev) != 3 {
		t.Fatalf("%d events, want 3: %v", len(ev), ev)
	}
	for i, e := range ev {
		if e.Kind != events.StepFailed || e.Step != "audit" || e.Repeated != (i > 0) {
			t.Errorf("event %d: %+v; want StepFailed audit, repeated only after the first", i, e)
		}
	}
	r.Fail("mount", &setup.StepError{Step: "kv-mount", Err: fmt.Errorf("list mounts: %w", context.Canceled)})
	if n := len(rec.Events()); n != 3 {
		t.Fatalf("a stop in a step sent an event: %v", rec.Events()[3:])
	}
}
