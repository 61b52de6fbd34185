package notice

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
)

func newNotices(pod string) (*Notices, *observer.ObservedLogs, *events.Recorder) {
	core, logs := observer.New(zapcore.DebugLevel)
	rec := &events.Recorder{}
	return &Notices{Log: zap.New(core), Emit: rec.Event, Pod: pod}, logs, rec
}

func kinds(rec *events.Recorder) (k []events.Kind) {
	for _, e := range rec.Events() {
		k = append(k, e.Kind)
	}
	return k
}

func TestPausedSaidOncePerChange(t *testing.T) {
	n, logs, rec := newNotices("")
	mark := &keystore.Pause{Since: time.Unix(1e9, 0), Reason: "maintenance"}
	want := []bool{false, true, true, false, false, true}
	for i, p := range []*keystore.Pause{nil, mark, mark, nil, nil, mark} {
		if got := n.Paused(p, nil); got != want[i] {
			t.Fatalf("call %d: paused %v, want %v", i, got, want[i])
		}
	}
	if got := kinds(rec); len(got) != 3 || got[0] != events.Paused || got[1] != events.Resumed || got[2] != events.Paused {
		t.Fatalf("events %v, want paused, resumed, paused", got)
	}
	if n := logs.FilterMessage("paused: vault-init does not initialize or unseal Vault until `vault-init resume`").Len(); n != 2 {
		t.Fatalf("%d pause lines, want 2", n)
	}
	if n := logs.FilterMessage("resumed: vault-init unseals Vault again").Len(); n != 1 {
		t.Fatalf("%d resume lines, want 1", n)
	}
}

func TestPausedUnreadableMarkCounts(t *testing.T) {
	n, logs, _ := newNotices("")
	if !n.Paused(&keystore.Pause{}, errors.New("read pause mark: permission denied")) {
		t.Fatal("a mark that cannot be read does not pause")
	}
	if e := logs.All(); len(e) != 1 || e[0].ContextMap()["error"] == nil {
		t.Fatalf("logs %v, want one line with the error", e)
	}
}

func TestAlreadyInitializedOnceAndNeverAfterInit(t *testing.T) {
	n, logs, _ := newNotices("vault-0")
	n.AlreadyInitialized()
	n.AlreadyInitialized()
	if e := logs.All(); len(e) != 1 || e[0].Message != "vault was already initialized; no banner this time. "+
		"Show the root token with: kubectl exec vault-0 -c vault-init -- vault-init root-token" {
		t.Fatalf("logs %v, want one line naming the pod", e)
	}
	n, logs, _ = newNotices("")
	n.Initialized()
	n.AlreadyInitialized()
	if logs.Len() != 0 {
		t.Fatalf("said after this run initialized: %v", logs.All())
	}
}
