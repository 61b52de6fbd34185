package events

import "go.uber.org/zap"

// Log returns a Sink that logs each event but Checked at debug level, as
// the message "event" with the field event=<kind>. Tests of the binary
// wait for `"event":"unsealed"` rather than for a message's wording.
func Log(log *zap.Logger) Sink {
	return Func(func(e Event) {
		if e.Kind == Checked || !log.Core().Enabled(zap.DebugLevel) {
			return
		}
		fields := []zap.Field{zap.String("event", string(e.Kind))}
		for _, f := range []struct{ k, v string }{{"node", e.Node}, {"state", e.State}, {"step", e.Step}, {"error", e.Error}} {
			if f.v != "" {
				fields = append(fields, zap.String(f.k, f.v))
			}
		}
		if e.Repeated {
			fields = append(fields, zap.Bool("repeated", true))
		}
		log.Debug("event", fields...)
	})
}
