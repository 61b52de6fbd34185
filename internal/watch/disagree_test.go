package watch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// Bodies of a fake Vault's replies. sys/health is asked for 299 in every
// state, so its body decides.
const (
	health         = "GET /v1/sys/health"
	healthUninit   = `{"initialized":false,"sealed":true}`
	healthSealed   = `{"initialized":true,"sealed":true}`
	sealUninit     = `{"type":"shamir","initialized":false,"sealed":true,"t":0,"n":0,"progress":0}`
	sealSealed     = `{"type":"shamir","initialized":true,"sealed":true,"t":3,"n":5,"progress":0}`
	sealUnsealed   = `{"type":"shamir","initialized":true,"sealed":false,"t":3,"n":5,"progress":0}`
	alreadyInitErr = `{"errors":["Vault is already initialized"]}`
)

// reply is one canned answer; cut closes the connection instead.
type reply struct {
	code int
	body string
	cut  bool
}

// fakeVault answers each "METHOD path" with a canned reply and counts every
// request. Its replies can be changed while it serves.
type fakeVault struct {
	mu      sync.Mutex
	replies map[string]reply
	seqs    map[string][]reply // replies in turn, for a key that has them
	calls   map[string]int
	block   map[string]chan struct{} // held until closed
}

func newFakeVault(replies map[string]reply) *fakeVault {
	return &fakeVault{replies: replies, calls: map[string]int{}, block: map[string]chan struct{}{}}
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.calls[key]++
	rep, ok := f.replies[key]
	if seq := f.seqs[key]; len(seq) > 0 {
		rep, ok = seq[(f.calls[key]-1)%len(seq)], true
	}
	hold := f.block[key]
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	switch {
	case !ok:
		w.WriteHeader(http.StatusNotFound)
	case rep.cut:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.code)
		fmt.Fprint(w, rep.body)
	}
}

func (f *fakeVault) set(key string, r reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[key] = r
}

func (f *fakeVault) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *fakeVault) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// fakeKeys writes a keystore of made-up keys into a new data dir.
func fakeKeys(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	d := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now(), SecretShares: 5, SecretThreshold: 3,
		Keys: []string{"fake-key-1-5d41402abc4b2a76", "fake-key-2-5d41402abc4b2a76", "fake-key-3-5d41402abc4b2a76",
			"fake-key-4-5d41402abc4b2a76", "fake-key-5-5d41402abc4b2a76"}, RootToken: "hvs.fake-root-5d41402abc4b2a76"}
	if err := keystore.New(dir).Save(d); err != nil {
		t.Fatal(err)
	}
	return dir
}

// watchFakes runs one Watcher over the fake nodes until ctx ends, with
// debug logs in logs.
func watchFakes(ctx context.Context, t *testing.T, urls []string, dataDir string, interval time.Duration, logs *vaulttest.Buffer) {
	t.Helper()
	h := watchtest.Start(t, watchtest.Options{Nodes: urls, DataDir: dataDir, Interval: interval})
	<-ctx.Done()
	if err := h.Stop(); err != nil {
		t.Error(err)
	}
	logs.Write([]byte(h.Logs.String()))
}

// maxRounds is the most rounds a node may take in window when every wait
// is at least the check interval or the error backoff (from FirstRetry,
// less 20 % jitter), with a lost connection ending one wait in two early.
func maxRounds(window, interval time.Duration) int {
	floor := min(interval, watch.FirstRetry) * 8 / 10
	return 2*int(window/floor) + 2
}

// TestRepliesThatDisagree: Vault's endpoints contradict one another, as
// behind a balancer over several Vaults or a proxy that rewrites replies.
// No such state may turn the loop into a hot loop, and it is logged once,
// not on every round. A real Vault cannot be put in these states.
func TestRepliesThatDisagree(t *testing.T) {
	const window, interval = 2 * time.Second, 500 * time.Millisecond
	cases := []struct {
		name    string
		replies map[string]reply
		keys    bool               // a keystore with keys in the data dir
		seqs    map[string][]reply // replies that alternate
	}{
		{"health uninitialized, seal-status initialized", map[string]reply{
			health: {code: 299, body: healthUninit}, "GET /v1/sys/seal-status": {code: 200, body: sealSealed},
		}, false, nil},
		{"sys/init answers 400 already initialized", map[string]reply{
			health: {code: 299, body: healthUninit}, "GET /v1/sys/seal-status": {code: 200, body: sealUninit},
			"PUT /v1/sys/init": {code: 400, body: alreadyInitErr},
		}, false, nil},
		{"health sealed, seal-status unsealed", map[string]reply{
			health: {code: 299, body: healthSealed}, "GET /v1/sys/seal-status": {code: 200, body: sealUnsealed},
		}, true, nil},
		{"health sealed, every unseal succeeds", map[string]reply{
			health: {code: 299, body: healthSealed}, "GET /v1/sys/seal-status": {code: 200, body: sealSealed},
			"PUT /v1/sys/unseal": {code: 200, body: sealUnsealed},
		}, true, nil},
		{"health sealed, seal-status connection cut", map[string]reply{
			health: {code: 299, body: healthSealed}, "GET /v1/sys/seal-status": {cut: true},
		}, true, nil},
		// A check that fails in between must not restart the fast polling
		// after each unseal: that was a loop of real unseals.
		{"health flaps between sealed and 500, every unseal succeeds", map[string]reply{
			"GET /v1/sys/seal-status": {code: 200, body: sealSealed}, "PUT /v1/sys/unseal": {code: 200, body: sealUnsealed},
		}, true, map[string][]reply{health: {{code: 299, body: healthSealed}, {code: 500, body: `{"errors":["boom"]}`}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVault(tc.replies)
			f.seqs = tc.seqs
			srv := httptest.NewServer(f)
			defer srv.Close()
			dir := t.TempDir()
			if tc.keys {
				dir = fakeKeys(t)
			}
			logs := &vaulttest.Buffer{}
			ctx, cancel := context.WithTimeout(context.Background(), window)
			defer cancel()
			watchFakes(ctx, t, []string{srv.URL}, dir, interval, logs)
			rounds, total := f.count(health), f.total()
			t.Logf("%d rounds, %d requests in %v", rounds, total, window)
			if bound := maxRounds(window, interval); rounds > bound {
				t.Fatalf("%d rounds (%d requests) in %v at a %v interval: a hot loop (at most %d)", rounds, total, window, interval, bound)
			}
			// Once Vault has said it is initialized, sys/init is never sent
			// again in this run: behind a balancer it could reach another,
			// empty Vault and make a second one.
			if n := f.count("PUT /v1/sys/init"); n > 1 {
				t.Fatalf("sys/init sent %d times after Vault said it was initialized", n)
			}
			if n, bound := f.count("PUT /v1/sys/unseal"), int(window/interval)+2; n > bound {
				t.Fatalf("%d unseals in %v at a %v interval: at most one a check interval (%d)", n, window, interval, bound)
			}
			for _, level := range []string{`"level":"warn"`, `"level":"error"`} {
				if n := strings.Count(logs.String(), level); n > 2 {
					t.Fatalf("%d lines at %s in %v: logged on every round\n%s", n, level, window, logs.String())
				}
			}
		})
	}
}

// TestWaitForAnotherNodesInit: while one node of a cluster is being
// initialized, a node that says "sealed" waits for that init to end (or a
// check interval), not polls at once; and it looks again the moment the
// init ends.
func TestWaitForAnotherNodesInit(t *testing.T) {
	a := newFakeVault(map[string]reply{
		health: {code: 299, body: healthUninit}, "GET /v1/sys/seal-status": {code: 200, body: sealUninit},
		"PUT /v1/sys/init": {code: 400, body: alreadyInitErr},
	})
	release := make(chan struct{})
	a.block["PUT /v1/sys/init"] = release
	// Node b does not answer at first, so that node a is the one to initialize.
	b := newFakeVault(map[string]reply{health: {cut: true}})
	as, bs := httptest.NewServer(a), httptest.NewServer(b)
	defer as.Close()
	defer bs.Close()
	released := false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchFakes(ctx, t, []string{as.URL, bs.URL}, t.TempDir(), time.Minute, &vaulttest.Buffer{})
	}()
	defer func() {
		if !released { // sys/init outlives a stop: it must be answered first
			close(release)
		}
		cancel()
		<-done
	}()

	waitUntil(t, "node a's sys/init", func() bool { return a.count("PUT /v1/sys/init") > 0 })
	b.set(health, reply{code: 299, body: healthSealed})
	seen := b.count(health)
	waitUntil(t, "node b seen sealed", func() bool { return b.count(health) > seen })
	before := b.count(health)
	time.Sleep(time.Second) // time for the loop to spin, if it would
	if n := b.count(health) - before; n > 1 {
		t.Fatalf("%d checks of node b in 1s while node a initializes, at a 1m check interval", n)
	}
	before = b.count(health)
	close(release)
	released = true
	// The next check is a minute away: only the end of the init wakes it.
	waitUntil(t, "node b checked once node a's init ended", func() bool { return b.count(health) > before })
}

// waitUntil polls cond until it holds, failing the test after a deadline
// far beyond what it should take: the deadline is not what is tested.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFlappingActiveConfiguresOnce: a check that fails between two that
// find Vault active is no new active period: setup (here, the mount check)
// runs once, not after every failed check.
func TestFlappingActiveConfiguresOnce(t *testing.T) {
	const window, interval = 2 * time.Second, 250 * time.Millisecond
	healthActive := `{"initialized":true,"sealed":false,"standby":false}`
	f := newFakeVault(map[string]reply{
		"GET /v1/sys/mounts": {code: 200, body: `{"data":{"aurora/":{"type":"kv","options":{"version":"2"}}}}`},
	})
	f.seqs = map[string][]reply{health: {{code: 299, body: healthActive}, {code: 500, body: `{"errors":["boom"]}`}}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	watchFakes(ctx, t, []string{srv.URL}, fakeKeys(t), interval, &vaulttest.Buffer{})
	if rounds, n := f.count(health), f.count("GET /v1/sys/mounts"); rounds < 4 || n != 1 {
		t.Fatalf("%d mount checks in %d rounds of active and 500, want 1", n, rounds)
	}
}
