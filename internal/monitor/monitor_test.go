package monitor

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/aurora/vault-init/internal/events"
)

// TestEventsDriveMetrics: the metrics are one events.Sink; each kind moves
// the series it stands for, and only that one.
func TestEventsDriveMetrics(t *testing.T) {
	m := New()
	m.Event(events.Event{Kind: events.Checked, Node: "a", State: "sealed"})
	m.Event(events.Event{Kind: events.Checked, Node: "b", State: "active"})
	m.Event(events.Event{Kind: events.Checked, Node: "c", State: "unreachable"})
	m.Event(events.Event{Kind: events.Unsealed, Node: "a"})
	m.Event(events.Event{Kind: events.Failed, Node: "a", Step: "unseal"})
	m.Event(events.Event{Kind: events.Failed, Node: "a", Step: "unseal", Repeated: true})
	m.Event(events.Event{Kind: events.SaveFailed})
	m.Event(events.Event{Kind: events.StepFailed, Step: "kv-mount"}) // a setup step's failure: kind mount
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"sealed{a}", testutil.ToFloat64(m.sealed.WithLabelValues("a")), 1},
		{"initialized{a}", testutil.ToFloat64(m.initialized.WithLabelValues("a")), 1},
		{"active{a}", testutil.ToFloat64(m.active.WithLabelValues("a")), 0},
		{"active{b}", testutil.ToFloat64(m.active.WithLabelValues("b")), 1},
		{"sealed{b}", testutil.ToFloat64(m.sealed.WithLabelValues("b")), 0},
		{"unseals{a}", testutil.ToFloat64(m.unseals.WithLabelValues("a")), 1},
		{"errors{unseal}", testutil.ToFloat64(m.errors.WithLabelValues("unseal")), 2},
		{"errors{kv-mount}", testutil.ToFloat64(m.errors.WithLabelValues("kv-mount")), 0},
		{"errors{mount}", testutil.ToFloat64(m.errors.WithLabelValues("mount")), 1},
		{"save failures", testutil.ToFloat64(m.saveFails), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// An unreachable node keeps its last answered state, with a fresh check time.
	if n := testutil.CollectAndCount(m.sealed); n != 2 {
		t.Errorf("sealed has %d series, want 2 (none for the node that never answered)", n)
	}
	if testutil.ToFloat64(m.lastCheck.WithLabelValues("c")) == 0 {
		t.Error("the unreachable node's last check time was not set")
	}
	var nilM *Metrics
	nilM.Event(events.Event{Kind: events.Unsealed}) // records nothing, no panic
}
