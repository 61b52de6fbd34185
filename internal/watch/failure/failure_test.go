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
