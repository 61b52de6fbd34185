//go:build faultinject

package faults

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch"
)

// ready starts a Vault behind a proxy and a vault-init that has made it ready.
func ready(t *testing.T) (*vaulttest.Server, *proxy, *proc) {
	t.Helper()
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := newProxy(t, srv.Addr())
	p := run(t, px.addr(), t.TempDir())
	p.stderr.WaitFor(t, "vault is ready", 60*time.Second)
	return srv, px, p
}

// TestMisbehavingVault: refused, slow, cut, half-answered and failing
// connections while Vault gets sealed behind them. vault-init must not
// hot-loop while it cannot reach Vault, and must unseal it without help once
// Vault behaves again.
func TestMisbehavingVault(t *testing.T) {
	cases := []struct {
		name string
		mode int32
		dur  time.Duration
	}{
		{"connections refused", -1, short(2*time.Minute, 8*time.Second)},
		{"connections cut", cut, short(time.Minute, 5*time.Second)},
		{"replies cut mid-body", partial, short(30*time.Second, 4*time.Second)},
		{"HTTP 500", fail500, short(30*time.Second, 4*time.Second)},
		{"5 s latency", slow, short(30*time.Second, 12*time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, px, p := ready(t)
			d := loadKeys(t, p.dir)
			if tc.mode < 0 {
				px.refuse()
			} else {
				px.mode.Store(tc.mode)
			}
			if err := srv.Client(d.RootToken).Sys().Seal(); err != nil { // behind the proxy's back
				t.Fatal(err)
			}
			before, _ := px.requests("")
			time.Sleep(tc.dur)
			after, _ := px.requests("")
			if tc.mode == cut {
				perMinute := float64(after-before) / tc.dur.Minutes()
				figures.rate("requests per minute while Vault cannot be reached (check interval 250ms)", perMinute)
				// For 30 s after Vault last answered, checks are FastPoll apart
				// (80 % of it with jitter at worst); then the backoff is capped
				// at the check interval (250 ms, 200 ms with jitter). Never more.
				fast := min(tc.dur, watch.FastPollFor)
				bound := int(fast/(watch.FastPoll*8/10)) + int((tc.dur-fast)/(200*time.Millisecond)) + 5
				if n := after - before; n > bound {
					t.Fatalf("%d requests in %v while Vault is down, more than %d", n, tc.dur, bound)
				}
			}
			if tc.mode == slow && !srv.Health().Sealed {
				// Slow, but it got through: that is recovery, not a fault.
				figures.count("fault runs", 1)
				return
			}
			back := time.Now()
			if tc.mode < 0 {
				px.restore()
			} else {
				px.mode.Store(pass)
			}
			srv.WaitFor("unseal once Vault behaves", 60*time.Second, vaulttest.Unsealed)
			figures.add("recovery once Vault behaves again", time.Since(back))
			if !p.running() {
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
	p.stderr.WaitFor(t, "vault is ready", 60*time.Second)
	for i := 0; i < n; i++ {
		srv.Kill()
		srv.Restart()
		figures.add("unsealed after a Vault restart (listener up to unsealed)", srv.WaitFor("unseal", 30*time.Second, vaulttest.Unsealed))
		figures.count("fault runs", 1)
		// Vault may answer "unsealed" before vault-init has read the reply to
		// its last key: let it log the unseal before the next kill.
		deadline := time.Now().Add(10 * time.Second)
		for p.count("vault unsealed") < i+2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if c := p.count(`vault unsealed`); c < n+1 {
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
		px := newProxy(t, srv.Addr())
		dir := t.TempDir()
		var ps []*proc
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := run(t, px.addr(), dir)
				mu.Lock()
				ps = append(ps, p)
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, p := range ps {
			p.stderr.WaitFor(t, "vault is ready", 60*time.Second)
		}
		if n := countInits(px); n != 1 {
			t.Fatalf("%d sys/init calls, want 1", n)
		}
		banners := 0
		for _, p := range ps {
			banners += strings.Count(p.stdout.String(), "Root Token:")
		}
		if banners != 1 {
			t.Fatalf("%d banners, want 1", banners)
		}
		loadKeys(t, dir)
		figures.count("fault runs", 1)
	}
}
