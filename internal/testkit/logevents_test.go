package testkit

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// logger is the program's logger (internal/cli's newLogger) at debug
// level, in format "console" or "json", writing to w.
func logger(format string, w *vaulttest.Buffer) *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "ts"
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	ec.EncodeDuration = zapcore.StringDurationEncoder
	enc := zapcore.NewJSONEncoder(ec)
	if format == "console" {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zapcore.DebugLevel)).Named("vault-init")
}

// TestEvents: the events that events.Log writes are found in both log
// formats, with their fields, and nothing else is taken for one: not a
// message that mentions an event, nor a field named event on another
// message.
func TestEvents(t *testing.T) {
	for _, format := range []string{"console", "json"} {
		t.Run(format, func(t *testing.T) {
			logs := &vaulttest.Buffer{}
			log := logger(format, logs).Named("watch")
			sink := events.Log(log)
			log.Info("vault unsealed", zap.String("event", "unsealed")) // not an event line
			log.Debug("event happened", zap.String("event", "unsealed"))
			sink.Event(events.Event{Kind: events.Checked, Node: "http://a"}) // never logged
			sink.Event(events.Event{Kind: events.Failed, Node: "http://a", Step: "unseal", Error: "tab\there", Repeated: true})
			sink.Event(events.Event{Kind: events.Unsealed, Node: "http://a"})
			sink.Event(events.Event{Kind: events.Unsealed, Node: "http://b"})
			p := &Proc{Stderr: logs, Stdout: &vaulttest.Buffer{}, t: t}

			if got := p.Events(""); len(got) != 3 {
				t.Fatalf("%d events, want 3:\n%s", len(got), logs.String())
			}
			f := p.WaitEvent(events.Failed, time.Second)
			if f.Node != "http://a" || f.Step != "unseal" || f.Error != "tab\there" || !f.Repeated || f.Time.IsZero() {
				t.Fatalf("failed event %+v", f)
			}
			if u := p.Events(events.Unsealed); len(u) != 2 || u[0].Node != "http://a" || u[1].Node != "http://b" || u[0].Repeated {
				t.Fatalf("unsealed events %+v", u)
			}
			if got := p.Events(events.Checked); len(got) != 0 {
				t.Fatalf("checked events %+v", got)
			}
		})
	}
}

// TestWaitEventFails: no event of the kind within the timeout fails the test.
func TestWaitEventFails(t *testing.T) {
	rec := &recorder{TB: t}
	p := &Proc{Stderr: &vaulttest.Buffer{}, Stdout: &vaulttest.Buffer{}, t: rec}
	rec.run(func() { p.WaitEvent(events.Ready, 50*time.Millisecond) })
	if rec.failure == "" {
		t.Fatal("WaitEvent returned without the event")
	}
}
