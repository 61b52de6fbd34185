//go:build faultinject

package faults

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// The phase boundaries, in the order a first start crosses them.
var points = []string{"before-init", "after-init-reply", "after-save", "mid-unseal", "before-mount"}

// TestCrashAtEveryPhase kills vault-init (SIGKILL) at each boundary of a
// first start, then starts it again. It must converge to ready with Vault
// initialized exactly once. The one exception is the window between Vault's
// init reply and the fsync of the keys: a crash there loses them, and the
// restart must then say so and change nothing.
func TestCrashAtEveryPhase(t *testing.T) {
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			srv := vaulttest.Start(t, vaulttest.Options{})
			px := testkit.NewProxy(t, srv.Addr())
			dir := t.TempDir()
			first := run(t, px.Addr(), dir, "VAULT_INIT_FAULT="+point+":kill")
			first.marker(point, 60*time.Second)
			if _, signaled := first.Wait(10 * time.Second); !signaled {
				t.Fatal("vault-init was not killed at the fault point")
			}
			figures.count("fault runs", 1)

			first.Knows(px.InitReplies()...) // the keys, even those the crash kept from the keystore
			restart := time.Now()
			second := run(t, px.Addr(), dir)
			second.Knows(px.InitReplies()...)
			if point == "after-init-reply" {
				// The keys died with the process, inside the measured window.
				second.WaitFor("it was initialized by someone else", 30*time.Second)
				if _, err := os.Stat(keystore.New(dir).Path()); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("init.json after a crash before the save: %v", err)
				}
				lost(t, srv, dir, true)
			} else {
				second.WaitEvent(events.Ready, 60*time.Second)
				figures.add("recovery after a crash (restart to ready)", time.Since(restart))
				if !srv.Health().Initialized || srv.Health().Sealed {
					t.Fatal("vault not initialized and unsealed")
				}
				lost(t, srv, dir, false)
			}
			if n := countInits(px); n != 1 {
				t.Fatalf("%d sys/init calls, want exactly 1", n)
			}
			if !second.Running() {
				t.Fatal("the restarted vault-init exited")
			}
		})
	}
}

// lost checks, after a fault, whether Vault is initialized while the
// keystore holds no keys, and counts it. Outside the reply-to-fsync window
// that is a failure.
func lost(t *testing.T, srv *vaulttest.Server, dir string, inWindow bool) {
	t.Helper()
	_, err := keystore.New(dir).Load()
	gone := srv.Health().Initialized && err != nil
	n := 0
	if gone {
		n = 1
	}
	if inWindow {
		figures.count("keys lost by a crash placed inside the reply-to-fsync window on purpose", n)
		return
	}
	figures.count("keys lost outside the reply-to-fsync window", n)
	if gone {
		t.Fatalf("vault is initialized and the keys are lost: %v", err)
	}
}

// countInits counts the PUT requests to sys/init (GET only reads the status).
func countInits(px *testkit.Proxy) int { return px.Count("PUT", "/v1/sys/init") }

// assertStopped checks an exit after a SIGTERM sent at: code 0, within
// testkit.StopPromise; and records the time it took.
func assertStopped(t *testing.T, p *proc, at time.Time, phase string) {
	t.Helper()
	figures.add("exit after SIGTERM "+phase, p.Stopped(at, phase))
}

// TestSIGTERMInEveryPhase stops vault-init with SIGTERM at each boundary. It
// must exit 0 within the promise, and leave Vault and the keystore
// consistent: keys saved whenever Vault was initialized. A SIGTERM right
// after the init reply must not cost the keys.
func TestSIGTERMInEveryPhase(t *testing.T) {
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			srv := vaulttest.Start(t, vaulttest.Options{})
			dir := t.TempDir()
			p := run(t, srv.Addr(), dir, "VAULT_INIT_FAULT="+point+":term")
			assertStopped(t, p, p.marker(point, 60*time.Second), "at "+point)
			figures.count("fault runs", 1)
			lost(t, srv, dir, false) // initialized means saved, even when stopped right after the reply
			if strings.Contains(p.Stderr.String(), "cannot proceed") {
				t.Fatalf("a stop was logged as a failure:\n%s", p.Stderr.String())
			}
			if point == "after-init-reply" && !strings.Contains(p.Stderr.String(), "unseal keys and root token saved") {
				t.Fatal("SIGTERM after the init reply lost the keys")
			}
		})
	}
}

// TestSIGTERMWhileRunning: SIGTERM in the phases between the boundaries:
// ready and idle, waiting for a Vault that refuses connections, and with a
// request held by a slow Vault. Each must exit 0 within the promise.
func TestSIGTERMWhileRunning(t *testing.T) {
	cases := []struct {
		phase string
		fault func(*testkit.Proxy)
		wait  string // the log line that says vault-init is in the phase
	}{
		{"while ready", func(*testkit.Proxy) {}, ""},
		{"while Vault refuses connections", (*testkit.Proxy).Refuse, "vault does not answer yet"},
		{"with a request held by a slow Vault", func(px *testkit.Proxy) { px.SetMode(testkit.Slow) }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.phase, func(t *testing.T) {
			_, px, p := ready(t)
			tc.fault(px)
			if tc.wait != "" {
				p.WaitFor(tc.wait, 30*time.Second)
			}
			for deadline := time.Now().Add(30 * time.Second); px.Mode() == testkit.Slow && px.Delayed("") == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no request reached the slow proxy within 30s")
				}
			}
			at := time.Now()
			p.Signal(syscall.SIGTERM)
			assertStopped(t, p, at, tc.phase)
			figures.count("fault runs", 1)
		})
	}
}
