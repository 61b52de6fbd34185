package watch_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/watch"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// fakeInterval is the check interval of the fake-clock tests; fakeRound
// is one step of their clock, past every wait of a round (the interval,
// the capped backoffs and their jitter).
const fakeInterval, fakeRound = time.Second, 10 * time.Second

// fakeLoop is a Watcher over fake Vaults on a fake clock: nothing waits
// but for the test's round.
type fakeLoop struct {
	*watchtest.Watcher
	clk *testclock.FakeClock
}

// startFakeLoop runs a Watcher over the fake nodes at urls, on a fake
// clock, until the test ends.
func startFakeLoop(t *testing.T, urls []string, dataDir string) *fakeLoop {
	t.Helper()
	clk := testclock.NewFakeClock(time.Now())
	return &fakeLoop{clk: clk, Watcher: watchtest.Start(t, watchtest.Options{Nodes: urls, DataDir: dataDir, Interval: fakeInterval, Clock: clk})}
}

// round waits until all n nodes wait on the clock (each has finished its
// round), then ends their waits.
func (l *fakeLoop) round(t *testing.T, n int) {
	t.Helper()
	waitUntil(t, "every node waiting", func() bool { return l.clk.Waiters() >= n })
	l.clk.Step(fakeRound)
}

// settle waits until all n nodes wait on the clock.
func (l *fakeLoop) settle(t *testing.T, n int) {
	t.Helper()
	waitUntil(t, "every node waiting", func() bool { return l.clk.Waiters() >= n })
}

// TestJoinPatienceUninitialized: two nodes of a cluster stay "not
// initialized" while the keystore holds keys (their retry_join does not
// reach the leader). That is reported after JoinPatience×3 checks, and not
// one check before.
func TestJoinPatienceUninitialized(t *testing.T) {
	a := newFakeVault(map[string]reply{health: {code: 299, body: healthUninit}})
	b := newFakeVault(map[string]reply{health: {code: 299, body: healthUninit}})
	as, bs := httptest.NewServer(a), httptest.NewServer(b)
	defer as.Close()
	defer bs.Close()
	l := startFakeLoop(t, []string{as.URL, bs.URL}, fakeKeys(t))
	const want = watch.JoinPatience * 3
	for i := 1; i < want; i++ {
		l.settle(t, 2)
		if n := a.count(health); n != i {
			t.Fatalf("round %d: %d checks of node a", i, n)
		}
		if strings.Contains(l.Logs.String(), "has not joined the cluster") {
			t.Fatalf("reported after %d checks, before %d", i, want)
		}
		l.round(t, 2)
	}
	l.settle(t, 2)
	if n := strings.Count(l.Logs.String(), "has not joined the cluster"); n != 2 {
		t.Fatalf("after %d checks, %d reports, want one per node:\n%s", want, n, l.Logs.String())
	}
	if n := a.total() - a.count(health) + b.total() - b.count(health); n != 0 {
		t.Fatalf("%d requests other than sys/health to nodes that join", n)
	}
}

// TestJoinPatienceSealed: a Raft node takes the threshold key and stays
// sealed, joining. It fails (an unseal failure) after JoinPatience rounds,
// not before.
func TestJoinPatienceSealed(t *testing.T) {
	f := newFakeVault(map[string]reply{
		health:                    {code: 299, body: healthSealed},
		"GET /v1/sys/seal-status": {code: 200, body: `{"type":"shamir","initialized":true,"sealed":true,"t":3,"n":5,"progress":0,"storage_type":"raft"}`},
		"PUT /v1/sys/unseal":      {code: 200, body: `{"type":"shamir","initialized":true,"sealed":true,"t":3,"n":5,"progress":0,"storage_type":"raft"}`},
	})
	srv := httptest.NewServer(f)
	defer srv.Close()
	l := startFakeLoop(t, []string{srv.URL}, fakeKeys(t))
	failed := func(e events.Event) bool { return e.Kind == events.Failed && e.Step == "unseal" }
	for i := 1; i < watch.JoinPatience; i++ {
		l.settle(t, 1)
		if n := f.count("PUT /v1/sys/unseal"); n != i {
			t.Fatalf("round %d: %d unseal rounds", i, n)
		}
		if l.Events.Count(failed) != 0 {
			t.Fatalf("an unseal failure after %d rounds, before %d", i, watch.JoinPatience)
		}
		l.round(t, 1)
	}
	if _, ok := l.Events.Wait(20*time.Second, failed); !ok {
		t.Fatalf("no unseal failure after %d joining rounds", watch.JoinPatience)
	}
}

// initResponse is a fake sys/init reply: five made-up keys.
const initResponse = `{"keys":["0a","0b","0c","0d","0e"],"keys_base64":["Cg==","Cw==","DA==","DQ==","Dg=="],"root_token":"hvs.fake-root"}`

// TestInitNodeIsTheFirstThatAnswers: of three uninitialized nodes, the
// first in order is down: the next, the first that answers, is
// initialized; the one after it, which answers too, gets no sys/init.
func TestInitNodeIsTheFirstThatAnswers(t *testing.T) {
	a := newFakeVault(map[string]reply{health: {cut: true}})
	uninit := func() *fakeVault {
		return newFakeVault(map[string]reply{
			health: {code: 299, body: healthUninit}, "GET /v1/sys/seal-status": {code: 200, body: sealUninit},
			"PUT /v1/sys/init": {code: 200, body: initResponse},
		})
	}
	b, c := uninit(), uninit()
	as, bs, cs := httptest.NewServer(a), httptest.NewServer(b), httptest.NewServer(c)
	defer as.Close()
	defer bs.Close()
	defer cs.Close()
	l := startFakeLoop(t, []string{as.URL, bs.URL, cs.URL}, t.TempDir())
	e, ok := l.Events.Wait(20*time.Second, events.Is(events.Initialized, ""))
	if !ok {
		t.Fatalf("no node was initialized:\n%s", l.Logs.String())
	}
	if e.Node != bs.URL {
		t.Fatalf("node %s was initialized, want node b (%s), the first that answers", e.Node, bs.URL)
	}
	for i := 0; i < 3; i++ { // every node's loop has looked, and more
		l.round(t, 3)
	}
	l.settle(t, 3)
	if n := c.count("PUT /v1/sys/init"); n != 0 {
		t.Fatalf("%d sys/init to node c, which answered after node b", n)
	}
	if n := b.count("PUT /v1/sys/init"); n != 1 {
		t.Fatalf("%d sys/init to node b, want 1", n)
	}
}

// TestInitNodeForgottenWhenItGoesAway: the node chosen to initialize goes
// away before its init succeeded. The choice is forgotten, and the next
// node that answers is initialized; without that, no node ever would be.
func TestInitNodeForgottenWhenItGoesAway(t *testing.T) {
	a := newFakeVault(map[string]reply{
		health: {code: 299, body: healthUninit}, "GET /v1/sys/seal-status": {code: 500, body: `{"errors":["boom"]}`},
	})
	b := newFakeVault(map[string]reply{health: {cut: true}})
	as, bs := httptest.NewServer(a), httptest.NewServer(b)
	defer as.Close()
	defer bs.Close()
	l := startFakeLoop(t, []string{as.URL, bs.URL}, t.TempDir())
	// Node a is chosen, and its init fails before any sys/init.
	if _, ok := l.Events.Wait(20*time.Second, func(e events.Event) bool {
		return e.Kind == events.Failed && e.Step == "init" && e.Node == as.URL
	}); !ok {
		t.Fatalf("node a's init did not fail:\n%s", l.Logs.String())
	}
	// Node a goes away; node b comes up, uninitialized.
	a.set(health, reply{cut: true})
	l.round(t, 2)
	if _, ok := l.Events.Wait(20*time.Second, events.Is(events.WentAway, as.URL)); !ok {
		t.Fatal("node a was not seen gone")
	}
	b.set("GET /v1/sys/seal-status", reply{code: 200, body: sealUninit})
	b.set("PUT /v1/sys/init", reply{code: 200, body: initResponse})
	b.set(health, reply{code: 299, body: healthUninit})
	for i := 0; i < 5 && l.Events.Count(events.Is(events.Initialized, bs.URL)) == 0; i++ {
		l.round(t, 2)
	}
	if _, ok := l.Events.Wait(20*time.Second, events.Is(events.Initialized, bs.URL)); !ok {
		t.Fatalf("node b was not initialized after node a went away:\n%s", l.Logs.String())
	}
	if n := a.count("PUT /v1/sys/init"); n != 0 {
		t.Fatalf("%d sys/init to node a", n)
	}
}
