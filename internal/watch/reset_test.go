package watch_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/watch"
)

// What a change of a node's state starts again, on the fake clock.

// Replies of a Raft follower that takes the threshold key and stays sealed,
// joining (as in TestJoinPatienceSealed).
const (
	sealRaftSealed  = `{"type":"shamir","initialized":true,"sealed":true,"t":3,"n":5,"progress":0,"storage_type":"raft"}`
	healthStandby   = `{"initialized":true,"sealed":false,"standby":true}`
	notJoinedReport = "has not joined the cluster"
)

// TestJoinPatienceStartsAgainAfterAnAnswer: a node found "not initialized"
// (keys held: waiting for its join) for one check short of the patience,
// then sealed, then "not initialized" again, is not reported: the patience
// counts checks in a row, and "sealed" ends the row.
func TestJoinPatienceStartsAgainAfterAnAnswer(t *testing.T) {
	a := newFakeVault(map[string]reply{
		health:                    {code: 299, body: healthUninit},
		"GET /v1/sys/seal-status": {code: 200, body: sealRaftSealed},
		"PUT /v1/sys/unseal":      {code: 200, body: sealRaftSealed},
	})
	// Node b is a standby: a cluster, and nothing to do there.
	b := newFakeVault(map[string]reply{health: {code: 299, body: healthStandby}})
	as, bs := httptest.NewServer(a), httptest.NewServer(b)
	defer as.Close()
	defer bs.Close()
	l := startFakeLoop(t, []string{as.URL, bs.URL}, fakeKeys(t))
	const short = watch.JoinPatience*3 - 1
	for i := 1; i <= short; i++ {
		l.settle(t, 2)
		if n := a.count(health); n != i {
			t.Fatalf("round %d: %d checks of node a", i, n)
		}
		if i == short {
			a.set(health, reply{code: 299, body: healthSealed}) // the next check finds it sealed
		}
		l.round(t, 2)
	}
	l.settle(t, 2)
	if n := a.count("PUT /v1/sys/unseal"); n != 1 {
		t.Fatalf("%d unseal rounds while node a was sealed, want 1", n)
	}
	a.set(health, reply{code: 299, body: healthUninit})
	for i := 0; i < 3; i++ {
		l.round(t, 2)
		l.settle(t, 2)
	}
	if n := a.count(health); n != short+4 {
		t.Fatalf("%d checks of node a, want %d", n, short+4)
	}
	if strings.Contains(l.Logs.String(), notJoinedReport) {
		t.Fatalf("reported after %d checks in a row, a sealed one among them:\n%s", short+4, l.Logs.String())
	}
	if n := l.Events.Count(func(e events.Event) bool { return e.Kind == events.Failed && e.Node == as.URL }); n != 0 {
		t.Fatalf("%d Failed events for node a", n)
	}
}

// TestDisagreementStartsAgainAfterAnAnswer: a check that says "sealed"
// while sys/seal-status says "unsealed" is a race the first time and a
// contradiction from the second in a row. A normal answer in between ends
// the row: the disagreement after it is a first one again, not reported.
func TestDisagreementStartsAgainAfterAnAnswer(t *testing.T) {
	f := newFakeVault(map[string]reply{
		health: {code: 299, body: healthSealed}, "GET /v1/sys/seal-status": {code: 200, body: sealUnsealed},
	})
	srv := httptest.NewServer(f)
	defer srv.Close()
	l := startFakeLoop(t, []string{srv.URL}, fakeKeys(t))
	failed := func(e events.Event) bool { return e.Kind == events.Failed && e.Step == "unseal" }
	for i, h := range []string{healthSealed, healthStandby, healthSealed} {
		f.set(health, reply{code: 299, body: h})
		if i > 0 {
			l.round(t, 1)
		}
		l.settle(t, 1)
		if n := f.count(health); n != i+1 {
			t.Fatalf("%d checks, want %d", n, i+1)
		}
		if n := l.Events.Count(failed); n != 0 {
			t.Fatalf("check %d: a disagreement reported, with a normal answer before it:\n%s", i+1, l.Logs.String())
		}
	}
	if n := f.count("GET /v1/sys/seal-status"); n != 2 {
		t.Fatalf("%d seal-status reads, want one per sealed check (2)", n)
	}
	// The second in a row is reported.
	l.round(t, 1)
	l.settle(t, 1)
	if n := l.Events.Count(failed); n != 1 {
		t.Fatalf("%d unseal failures after the second disagreement in a row, want 1:\n%s", n, l.Logs.String())
	}
}
