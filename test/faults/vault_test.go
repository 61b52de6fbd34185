//go:build faultinject

package faults

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch"
)

// ready starts a Vault behind a proxy and a vault-init that has made it ready.
func ready(t *testing.T) (*vaulttest.Server, *testkit.Proxy, *proc) {
	t.Helper()
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := testkit.NewProxy(t, srv.Addr())
	p := run(t, px.Addr(), t.TempDir())
	p.WaitEvent(events.Ready, 60*time.Second)
	return srv, px, p
}

// refused stands for the proxy's listener closed (Proxy.Refuse), which
// is not a mode of the proxy.
const refused testkit.Mode = -1

// failedChecksBound is the most health checks vault-init may make in d
// while every check fails, Vault having been seen unsealed just before:
// FastPoll apart (80 % of it, for slack) for FastPollFor, then the backoff
// capped at the check interval (250 ms, 200 ms with jitter). Never more.
func failedChecksBound(d time.Duration) int {
	fast := min(d, watch.FastPollFor)
	return int(fast/(watch.FastPoll*8/10)) + int((d-fast)/(200*time.Millisecond)) + 5
}

// TestMisbehavingVault: refused, slow, cut, half-answered and failing
// connections while Vault gets sealed behind them. vault-init must not
// hot-loop while it cannot reach Vault, and must unseal it without help once
// Vault behaves again.
func TestMisbehavingVault(t *testing.T) {
	cases := []struct {
		name string
		mode testkit.Mode
		dur  time.Duration
	}{
		{"connections refused", refused, short(2*time.Minute, 8*time.Second)},
		{"connections cut", testkit.Cut, short(time.Minute, 5*time.Second)},
		{"replies cut mid-body", testkit.Partial, short(30*time.Second, 4*time.Second)},
		{"HTTP 500", testkit.Fail500, short(30*time.Second, 4*time.Second)},
		{"5 s latency", testkit.Slow, short(30*time.Second, 12*time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, px, p := ready(t)
			d := loadKeys(t, p.dir)
			if tc.mode == refused {
				px.Refuse()
			} else {
				px.SetMode(tc.mode)
			}
			if err := srv.Client(d.RootToken).Sys().Seal(); err != nil { // behind the proxy's back
				t.Fatal(err)
			}
			// A refused connection never reaches the proxy: count vault-init's
			// rounds by its debug line instead.
			const refusedRound = "vault does not answer yet"
			before := px.Count("", "")
			roundsBefore := p.Count(refusedRound)
			time.Sleep(tc.dur)
			after := px.Count("", "")
			n := after - before
			if tc.mode == refused {
				n = p.Count(refusedRound) - roundsBefore
			}
			figures.rate(fmt.Sprintf("requests per minute, %s (check interval 250ms)", tc.name), float64(n)/tc.dur.Minutes())
			if bound := failedChecksBound(tc.dur); tc.mode != testkit.Slow && n > bound {
				t.Fatalf("%d requests in %v, %s: more than %d", n, tc.dur, tc.name, bound)
			}
			if n < 1 {
				// A bound met by counting nothing proves nothing (a reworded
				// debug line, a log level).
				t.Fatalf("no request or round counted in %v, %s: the count does not see vault-init", tc.dur, tc.name)
			}
			back := time.Now()
			if tc.mode == testkit.Slow {
				slowRecovery(t, srv, px)
			} else if tc.mode == refused {
				px.Restore()
			} else {
				px.SetMode(testkit.Pass)
			}
			srv.WaitFor("unseal once Vault behaves", 60*time.Second, vaulttest.Unsealed)
			figures.add("recovery once Vault behaves again", time.Since(back))
			if !p.Running() {
				t.Fatal("vault-init exited")
			}
			figures.count("fault runs", 1)
		})
	}
}

// slowRecovery checks that the slow mode exercised what it is for: requests
// held back by the proxy, and, if Vault got unsealed while slow, an unseal
// that went through the slow proxy. Otherwise the proxy turns fast again.
func slowRecovery(t *testing.T, srv *vaulttest.Server, px *testkit.Proxy) {
	t.Helper()
	if px.Delayed("") == 0 {
		t.Fatal("slow mode held back no request: the slow path was not exercised")
	}
	if srv.Health().Sealed {
		px.SetMode(testkit.Pass)
		return
	}
	if px.Delayed("/v1/sys/unseal") == 0 {
		t.Fatal("vault was unsealed, but no unseal went through the slow proxy")
	}
	figures.count("slow-mode unseals through a 5 s latency", 1)
}

// TestVaultRepliesDisagree: Vault's endpoints contradict each other, as
// behind a balancer over several Vaults or a proxy that rewrites replies.
// Every round then waits at least the check interval or the error backoff
// (250 ms less 20 % jitter), the disagreement is reported once, and Vault is
// unsealed once the replies agree again.
func TestVaultRepliesDisagree(t *testing.T) {
	cases := []struct {
		name     string
		mode     testkit.Mode
		perRound int  // requests a round makes in this mode
		fresh    bool // a second vault-init, with an empty data dir, meets it
	}{
		{"sys/health says not initialized, sys/seal-status initialized", testkit.HealthUninit, 2, false},
		{"sys/health says sealed, sys/seal-status unsealed", testkit.HealthSealed, 2, false},
		{"sys/init answers 400 already initialized", testkit.InitLie, 3, true},
	}
	dur := short(30*time.Second, 4*time.Second)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, px, p := ready(t)
			d := loadKeys(t, p.dir)
			// The lie first, then the seal: vault-init must not unseal Vault
			// before the replies agree, or "unsealed once they agree" would
			// prove nothing.
			px.SetMode(tc.mode)
			if err := srv.Client(d.RootToken).Sys().Seal(); err != nil {
				t.Fatal(err)
			}
			if tc.fresh {
				p.Kill()
				p = run(t, px.Addr(), t.TempDir())
				p.WaitFor("watching vault", 30*time.Second)
			}
			before := px.Count("", "")
			time.Sleep(dur)
			after := px.Count("", "")
			figures.rate(fmt.Sprintf("requests per minute, %s (check interval 250ms)", tc.name), float64(after-before)/dur.Minutes())
			if bound := tc.perRound*int(dur/(200*time.Millisecond)+2) + 2; after-before > bound {
				t.Fatalf("%d requests in %v: a hot loop (at most %d)", after-before, dur, bound)
			}
			if n := p.Count("cannot proceed"); n > 2 {
				t.Fatalf("the disagreement was reported %d times in %v, not once", n, dur)
			}
			px.SetMode(testkit.Pass)
			if !tc.fresh {
				srv.WaitFor("unseal once the replies agree", 60*time.Second, vaulttest.Unsealed)
			}
			if !p.Running() {
				t.Fatal("vault-init exited")
			}
			figures.count("fault runs", 1)
		})
	}
}

// TestVaultRestartedManyTimes kills and restarts Vault over and over: it is
// unsealed again every time.
func TestVaultRestartedManyTimes(t *testing.T) {
	n := 50
	if testing.Short() {
		n = 5
	}
	srv := vaulttest.Start(t, vaulttest.Options{})
	p := run(t, srv.Addr(), t.TempDir())
	p.WaitEvent(events.Ready, 60*time.Second)
	for i := 0; i < n; i++ {
		srv.Kill()
		srv.Restart()
		figures.add("unsealed after a Vault restart (listener up to unsealed)", srv.WaitFor("unseal", 30*time.Second, vaulttest.Unsealed))
		figures.count("fault runs", 1)
		// Vault may answer "unsealed" before vault-init has read the reply to
		// its last key: let it log the unseal before the next kill.
		deadline := time.Now().Add(10 * time.Second)
		for len(p.Events(events.Unsealed)) < i+2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if c := len(p.Events(events.Unsealed)); c < n+1 {
		t.Fatalf("%d unseals logged for %d restarts", c, n)
	}
}

// TestTwoProcesses: two vault-init processes share one data dir and one
// Vault. Exactly one initializes; both end ready.
func TestTwoProcesses(t *testing.T) {
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for r := 0; r < rounds; r++ {
		srv := vaulttest.Start(t, vaulttest.Options{})
		px := testkit.NewProxy(t, srv.Addr())
		dir := t.TempDir()
		var ps []*proc
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := run(t, px.Addr(), dir)
				mu.Lock()
				ps = append(ps, p)
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, p := range ps {
			p.WaitEvent(events.Ready, 60*time.Second)
		}
		if n := countInits(px); n != 1 {
			t.Fatalf("%d sys/init calls, want 1", n)
		}
		banners := 0
		for _, p := range ps {
			banners += strings.Count(p.Stdout.String(), "Root Token:")
		}
		if banners != 1 {
			t.Fatalf("%d banners, want 1", banners)
		}
		loadKeys(t, dir)
		figures.count("fault runs", 1)
	}
}
