package notify

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aurora/vault-init/internal/events"
)

func TestDeliversToEveryURL(t *testing.T) {
	a, b := newReceiver(t, nil), newReceiver(t, nil)
	n, err := New([]string{a.URL, " ", b.URL}, quick())
	if err != nil {
		t.Fatal(err)
	}
	if len(n.targets) != 2 {
		t.Fatalf("Len = %d, want 2 (the blank entry is skipped)", len(n.targets))
	}
	start(t, n)
	n.Event(events.Event{Kind: events.Unsealed, Node: "http://vault-0:8200", Time: t0})
	for _, r := range []*receiver{a, b} {
		p := r.next()
		want := PayloadEvent{Event: "unsealed", Node: "http://vault-0:8200", Time: "2026-12-06T08:00:00.123456789Z"}
		if p.Version != "v-test" || len(p.Events) != 1 || p.Events[0] != want {
			t.Fatalf("payload %+v, want version v-test and %+v", p, want)
		}
		if p.Text != "vault-init: http://vault-0:8200: unsealed" {
			t.Fatalf("text %q", p.Text)
		}
	}
}

// TestSkipsCheckedAndRepeatedFailures: health checks and repeated failures
// (of an action or of a setup step) are not notified.
func TestSkipsCheckedAndRepeatedFailures(t *testing.T) {
	r := newReceiver(t, nil)
	n, _ := New([]string{r.URL}, quick())
	out := outcomes(n, 0)
	start(t, n)
	n.Event(ev(events.Checked, "n"))
	n.Event(events.Event{Kind: events.Failed, Node: "n", Step: "unseal", Error: "boom", Repeated: true, Time: t0})
	n.Event(events.Event{Kind: events.StepFailed, Node: "n", Step: "audit", Error: "bang", Repeated: true, Time: t0})
	n.Event(events.Event{Kind: events.Failed, Node: "n", Step: "unseal", Error: "boom", Time: t0})
	p := r.next()
	if len(p.Events) != 1 || p.Events[0].Event != "failed" || p.Events[0].Error != "boom" {
		t.Fatalf("first POST %+v, want only the first failure", p)
	}
	if err := waitOutcome(t, out); err != nil {
		t.Fatal(err)
	}
	n.Event(events.Event{Kind: events.StepFailed, Node: "n", Step: "audit", Error: "bang", Time: t0})
	if p := r.next(); len(p.Events) != 1 || p.Events[0].Event != "setup_step_failed" {
		t.Fatalf("second POST %+v, want the step's first failure", p)
	}
	if err := waitOutcome(t, out); err != nil {
		t.Fatal(err)
	}
	if s := n.stats(); s.Delivered != 2 {
		t.Fatalf("stats %+v, want 2 delivered", s)
	}
}

// gate is a clock whose batch window ends only when the test says so; every
// other wait (grace, backoff) is real.
type gate struct {
	window  time.Duration
	started chan struct{}  // a window began
	end     chan time.Time // ends one window
	real    func(time.Duration) <-chan time.Time
}

func newGate(window time.Duration) *gate {
	return &gate{window: window, started: make(chan struct{}, 100), end: make(chan time.Time), real: time.After}
}

func (g *gate) After(d time.Duration) <-chan time.Time {
	if d != g.window {
		return g.real(d)
	}
	g.started <- struct{}{}
	return g.end
}

func TestBatchesABurst(t *testing.T) {
	a, b := newReceiver(t, nil), newReceiver(t, nil)
	g := newGate(time.Hour)
	opts := quick()
	opts.BatchWindow, opts.After = time.Hour, g.After
	n, _ := New([]string{a.URL, b.URL}, opts)
	start(t, n)
	kinds := []events.Kind{events.Answered, events.Initialized, events.Unsealed, events.StepDone, events.Ready}
	n.Event(ev(kinds[0], "n"))
	for range 2 { // both URLs are in their window
		<-g.started
	}
	for _, k := range kinds[1:] {
		n.Event(ev(k, "n"))
	}
	g.end <- time.Now()
	g.end <- time.Now()
	for _, r := range []*receiver{a, b} {
		p := r.next()
		if len(p.Events) != len(kinds) {
			t.Fatalf("one POST held %d events, want the burst of %d", len(p.Events), len(kinds))
		}
		for i, k := range kinds {
			if p.Events[i].Event != string(k) {
				t.Fatalf("event %d is %s, want %s (order kept)", i, p.Events[i].Event, k)
			}
		}
		if got := strings.Count(p.Text, "\n") + 1; got != len(kinds) {
			t.Fatalf("text has %d lines, want %d:\n%s", got, len(kinds), p.Text)
		}
	}
	if got := a.attempts.Load(); got != 1 {
		t.Fatalf("%d POSTs, want 1", got)
	}
}

func TestMaxBatchSplits(t *testing.T) {
	r := newReceiver(t, nil)
	opts := quick()
	opts.MaxBatch = 3
	n, _ := New([]string{r.URL}, opts)
	for range 7 { // queued before Run: one drain
		n.Event(ev(events.Unsealed, "n"))
	}
	start(t, n)
	got := 0
	for got < 7 {
		p := r.next()
		if len(p.Events) > 3 {
			t.Fatalf("a POST held %d events, over MaxBatch 3", len(p.Events))
		}
		got += len(p.Events)
	}
	if got != 7 || r.attempts.Load() != 3 {
		t.Fatalf("%d events in %d POSTs, want 7 in 3", got, r.attempts.Load())
	}
}

func TestRetriesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
	}{{"500", http.StatusInternalServerError}, {"429", http.StatusTooManyRequests}, {"503", http.StatusServiceUnavailable}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, func(int64) int { return tc.code })
			opts := quick()
			opts.Attempts = 3
			n, _ := New([]string{r.URL}, opts)
			out := outcomes(n, 0)
			start(t, n)
			n.Event(ev(events.Sealed, "n"))
			if err := waitOutcome(t, out); err == nil {
				t.Fatal("delivery succeeded against a receiver that always fails")
			}
			if got := r.attempts.Load(); got != 3 {
				t.Fatalf("%d attempts, want exactly Attempts=3", got)
			}
			if s := n.stats(); s.Failed != 1 || s.Delivered != 0 {
				t.Fatalf("stats %+v, want 1 failed", s)
			}
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	r := newReceiver(t, func(n int64) int {
		if n < 3 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	n, _ := New([]string{r.URL}, quick())
	out := outcomes(n, 0)
	start(t, n)
	n.Event(ev(events.Sealed, "n"))
	if err := waitOutcome(t, out); err != nil {
		t.Fatalf("not delivered: %v", err)
	}
	if got := r.attempts.Load(); got != 3 {
		t.Fatalf("%d attempts, want 3 (two 502s, then 200)", got)
	}
	r.next()
}

func TestNoRetryOnClientError(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusGone} {
		r := newReceiver(t, func(int64) int { return code })
		n, _ := New([]string{r.URL}, quick())
		out := outcomes(n, 0)
		stop := start(t, n)
		n.Event(ev(events.Sealed, "n"))
		if err := waitOutcome(t, out); err == nil || !strings.Contains(err.Error(), "answered") {
			t.Fatalf("%d: outcome %v, want a refusal", code, err)
		}
		stop()
		if got := r.attempts.Load(); got != 1 {
			t.Fatalf("%d: %d attempts, want 1 (no retry on a 4xx but 429)", code, got)
		}
	}
}

// TestDeadReceiverCostsNothing: one receiver hangs and one refuses
// connections; Event still returns at once, the live receiver gets every
// event, and the hanging one's overflow is dropped and counted.
func TestDeadReceiverCostsNothing(t *testing.T) {
	live := newReceiver(t, nil)
	hang := hanging(t)
	opts := quick()
	opts.QueueSize, opts.MaxBatch = 8, 1000
	opts.Timeout = time.Hour // the hanging POST never times out during the test
	opts.Grace = 10 * time.Millisecond
	n, _ := New([]string{hang.URL, refused(t), live.URL}, opts)
	start(t, n)

	const total = 5000
	done := make(chan struct{})
	go func() {
		for i := range total {
			n.Event(events.Event{Kind: events.Unsealed, Node: strconv.Itoa(i), Time: t0})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatal("Event blocked behind a dead receiver")
	}
	// The live receiver gets the newest event: no delay from the others.
	// (It may drop some of a burst this size too; its queue is 8.)
	for {
		p := live.next()
		if p.Events[len(p.Events)-1].Node == strconv.Itoa(total-1) {
			break
		}
	}
	if s := n.stats(); s.Dropped == 0 {
		t.Fatalf("stats %+v: the hanging receiver's queue overflowed, want drops counted", s)
	}
}

func TestDropsOldest(t *testing.T) {
	r := newReceiver(t, nil)
	core, logs := observer.New(zap.WarnLevel)
	opts := quick()
	opts.QueueSize, opts.Log = 3, zap.New(core)
	n, _ := New([]string{r.URL}, opts)
	for _, node := range []string{"1", "2", "3", "4", "5"} { // no Run yet: all queued
		n.Event(ev(events.Unsealed, node))
	}
	if s := n.stats(); s.Dropped != 2 {
		t.Fatalf("stats %+v, want 2 dropped", s)
	}
	start(t, n)
	p := r.next()
	var nodes []string
	for _, e := range p.Events {
		nodes = append(nodes, e.Node)
	}
	if strings.Join(nodes, ",") != "3,4,5" {
		t.Fatalf("delivered nodes %v, want the newest 3,4,5", nodes)
	}
	drops := logs.FilterMessage("notifications dropped: queue full").All()
	if len(drops) != 1 || drops[0].ContextMap()["dropped"] != uint64(2) {
		t.Fatalf("drop logs %v, want one with dropped=2", drops)
	}
}
