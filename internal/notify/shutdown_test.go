package notify

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aurora/vault-init/internal/events"
)

func TestShutdownFlushes(t *testing.T) {
	r := newReceiver(t, nil)
	g := newGate(time.Hour)
	opts := quick()
	opts.BatchWindow, opts.After = time.Hour, g.After
	n, _ := New([]string{r.URL}, opts)
	stop := start(t, n)
	n.Event(ev(events.Paused, "n"))
	<-g.started // in a window that never ends by itself
	n.Event(ev(events.Sealed, "n"))
	stop()
	p := r.next()
	if len(p.Events) != 2 || p.Events[0].Event != "paused" || p.Events[1].Event != "sealed" {
		t.Fatalf("flushed %+v, want paused and sealed", p.Events)
	}
}

func TestShutdownIsBoundedByGrace(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	opts := quick()
	opts.Timeout, opts.Grace, opts.Log = time.Hour, 50*time.Millisecond, zap.New(core)
	n, _ := New([]string{hanging(t).URL}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	n.Event(ev(events.Sealed, "n"))
	n.Event(ev(events.Paused, "n"))
	cancel()
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatal("Run did not return within its grace against a hanging receiver")
	}
	if s := n.stats(); s.Failed != 2 {
		t.Fatalf("stats %+v, want both events counted as failed", s)
	}
	if logs.Len() == 0 {
		t.Fatal("no warning that notifications were not sent")
	}
}
