package events_test

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aurora/vault-init/internal/events"
)

func TestMultiSkipsNilAndKeepsOrder(t *testing.T) {
	var got []string
	a := events.Func(func(e events.Event) { got = append(got, "a:"+string(e.Kind)) })
	b := events.Func(func(e events.Event) { got = append(got, "b:"+string(e.Kind)) })
	events.Multi(a, nil, b).Event(events.Event{Kind: events.Unsealed})
	if len(got) != 2 || got[0] != "a:unsealed" || got[1] != "b:unsealed" {
		t.Fatalf("got %v, want [a:unsealed b:unsealed]", got)
	}
}

func TestEmitterStampsTime(t *testing.T) {
	fixed := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	var r events.Recorder
	em := &events.Emitter{Sink: &r, Now: func() time.Time { return fixed }}
	em.Emit(events.Event{Kind: events.Sealed})
	given := fixed.Add(time.Hour)
	em.Emit(events.Event{Kind: events.Sealed, Time: given})
	ev := r.Events()
	if len(ev) != 2 || !ev[0].Time.Equal(fixed) || !ev[1].Time.Equal(given) {
		t.Fatalf("times %v, want %v then %v", ev, fixed, given)
	}
	var nilEm *events.Emitter
	nilEm.Emit(events.Event{Kind: events.Sealed}) // must not panic
	(&events.Emitter{}).Emit(events.Event{Kind: events.Sealed})
}

func TestRecorderWait(t *testing.T) {
	var r events.Recorder
	r.Event(events.Event{Kind: events.Unsealed, Node: "a"})
	go func() {
		time.Sleep(20 * time.Millisecond)
		r.Event(events.Event{Kind: events.Unsealed, Node: "b"})
	}()
	if e, ok := r.Wait(5*time.Second, events.Is(events.Unsealed, "b")); !ok || e.Node != "b" {
		t.Fatalf("Wait = %+v, %v; want the event of node b", e, ok)
	}
	if _, ok := r.Wait(10*time.Millisecond, events.Is(events.Initialized, "")); ok {
		t.Fatal("Wait found an event that was never recorded")
	}
	if n := r.Count(events.Is(events.Unsealed, "")); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
}

func TestLogSink(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	s := events.Log(zap.New(core))
	s.Event(events.Event{Kind: events.Checked, Node: "n"})
	s.Event(events.Event{Kind: events.Failed, Node: "n", Step: "unseal", Error: "boom", Repeated: true})
	all := logs.All()
	if len(all) != 1 {
		t.Fatalf("logged %d entries, want 1 (Checked is not logged)", len(all))
	}
	f := all[0].ContextMap()
	if f["event"] != "failed" || f["node"] != "n" || f["step"] != "unseal" || f["error"] != "boom" || f["repeated"] != true {
		t.Fatalf("fields %v", f)
	}
	core, logs = observer.New(zap.InfoLevel)
	events.Log(zap.New(core)).Event(events.Event{Kind: events.Unsealed})
	if logs.Len() != 0 {
		t.Fatal("logged an event below the logger's level")
	}
}
