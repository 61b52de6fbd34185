//go:build faultinject

package faults

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// The boundaries of `vault-init rekey`, in the order it crosses them.
var rekeyPoints = []string{"rekey-after-init", "rekey-mid-update", "rekey-after-update", "rekey-after-pending",
	"rekey-mid-verify", "rekey-after-verify", "rekey-after-settle"}

// rekeyWindowRE finds rekey's measured window: Vault's last verify reply
// (Vault uses the new keys) to the keystore holding them as its keys.
var rekeyWindowRE = regexp.MustCompile(`"rekey_window": ?"([^"]+)"`)

// TestCrashDuringRekey kills `vault-init rekey` (SIGKILL) at each boundary.
// No crash may lose access: (a) Vault restarted, `run --once` unseals it
// with what the keystore holds and settles the interrupted rekey; (b) with
// Vault left as it was, a second `vault-init rekey` completes. Either way
// the keystore ends settled, and its keys unseal Vault.
func TestCrashDuringRekey(t *testing.T) {
	points := rekeyPoints
	if testing.Short() {
		points = []string{"rekey-after-pending", "rekey-after-verify"}
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Run("vault restarted, then run --once", func(t *testing.T) {
				c := crashRekey(t, point)
				c.srv.Stop()
				c.srv.Restart()
				c.vi("run", "--once")
				c.settledAs(point)
				if loadKeys(t, c.dir).Pending != nil {
					// The old keys opened Vault, which proves nothing
					// about the rekey (on a cluster, another node may
					// still verify it): the loop left it for
					// `vault-init rekey`, which asks Vault.
					c.vi("rekey")
				}
				c.settledAndOpens()
			})
			t.Run("rekey again", func(t *testing.T) {
				c := crashRekey(t, point)
				c.vi("rekey")
				c.settledAndOpens()
			})
		})
	}
}

// rekeyRun is one Vault, its data dir, and the vault-init runs against it.
type rekeyRun struct {
	t     *testing.T
	srv   *vaulttest.Server
	dir   string
	seen  []*keystore.InitData // every keystore state, for the secret scans
	procs []*testkit.Proc
}

// crashRekey initializes a Vault with `run --once` (5 shares, threshold 3)
// and kills `vault-init rekey --shares 4 --threshold 2` at point.
func crashRekey(t *testing.T, point string) *rekeyRun {
	t.Helper()
	c := &rekeyRun{t: t, srv: vaulttest.Start(t, vaulttest.Options{}), dir: t.TempDir()}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.Knows(c.seen...)
		}
	})
	c.vi("run", "--once") // seen[0]: the keys of init
	p := c.start([]string{"rekey", "--shares", "4", "--threshold", "2"}, "VAULT_INIT_FAULT="+point+":kill")
	p.WaitFor("FAULTINJECT "+point+" ", 60*time.Second)
	if _, signaled := p.Wait(10 * time.Second); !signaled {
		t.Fatal("vault-init rekey was not killed at the fault point")
	}
	figures.count("fault runs", 1)
	c.seen = append(c.seen, loadKeys(t, c.dir)) // seen[1]: the keystore at the crash
	return c
}

// start starts the faultinject build with args against the Vault.
func (c *rekeyRun) start(args []string, env ...string) *testkit.Proc {
	c.t.Helper()
	p := testkit.Start(c.t, binary, testkit.Options{Args: args, ScanDir: c.dir,
		Env: append([]string{"VAULT_ADDR=" + c.srv.Addr(), "VAULT_INIT_DATA_DIR=" + c.dir}, env...)})
	c.procs = append(c.procs, p)
	return p
}

// vi runs vault-init with args to its end and wants exit 0.
func (c *rekeyRun) vi(args ...string) {
	c.t.Helper()
	p := c.start(args)
	if code, _ := p.Wait(60 * time.Second); code != 0 {
		c.t.Fatalf("vault-init %v: exit %d\n%s", args, code, p.Stderr.String())
	}
	for _, m := range rekeyWindowRE.FindAllStringSubmatch(p.Stderr.String(), -1) {
		if d, err := time.ParseDuration(m[1]); err == nil {
			figures.add("rekey window from Vault's verify reply to the new keys saved", d)
		}
	}
	c.seen = append(c.seen, loadKeys(c.t, c.dir))
}

// settledAs checks, after Vault's restart and an unseal, that the keystore
// holds the keys Vault had at the crash at point as its keys: the new ones
// from Vault's last verify reply on, the old ones before (a restart ends a
// rekey that is not verified; the new ones may stay pending).
func (c *rekeyRun) settledAs(point string) {
	c.t.Helper()
	orig, crashed, now := c.seen[0], c.seen[1], loadKeys(c.t, c.dir)
	want := orig.Keys
	switch point {
	case "rekey-after-verify":
		want = crashed.Pending.Keys
	case "rekey-after-settle":
		want = crashed.Keys
	}
	if !slices.Equal(now.Keys, want) || slices.Equal(now.Keys, orig.Keys) != (point != "rekey-after-verify" && point != "rekey-after-settle") {
		c.t.Fatalf("after a crash at %s the keystore holds the wrong set of keys", point)
	}
}

// settledAndOpens checks that the keystore has no pending change and that
// its keys are Vault's: Vault sealed, `run --once` unseals it with them
// (a pending rekey would give it a second set to try).
func (c *rekeyRun) settledAndOpens() {
	c.t.Helper()
	d := loadKeys(c.t, c.dir)
	if d.Pending != nil {
		c.t.Fatalf("the keystore still has a pending %s", d.Pending.Kind)
	}
	if st, err := c.srv.Client("").Sys().RekeyStatusWithContext(context.Background()); err != nil || st.Started {
		c.t.Fatalf("a rekey is left started in Vault (%v), or its status is unknown: %v", st != nil && st.Started, err)
	}
	if err := c.srv.Client(d.RootToken).Sys().SealWithContext(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	c.vi("run", "--once")
	if h := c.srv.Health(); h.Sealed {
		figures.count("rekey crashes that lost access", 1)
		c.t.Fatal("the keystore's keys do not unseal Vault")
	}
	figures.count("rekey crashes that lost access", 0)
}

// TestCrashDuringRekeyProbe: a rekey interrupted after Vault verified its
// keys is settled by a probe; a crash in the middle of that probe leaves a
// rekey of vault-init's in Vault (recorded as its own), which the next
// `vault-init rekey` cancels before it settles and rekeys.
func TestCrashDuringRekeyProbe(t *testing.T) {
	c := crashRekey(t, "rekey-after-verify")
	p := c.start([]string{"rekey"}, "VAULT_INIT_FAULT=rekey-mid-probe:kill")
	p.WaitFor("FAULTINJECT rekey-mid-probe ", 60*time.Second)
	if _, signaled := p.Wait(10 * time.Second); !signaled {
		t.Fatal("vault-init rekey was not killed in the probe")
	}
	figures.count("fault runs", 1)
	if st, err := c.srv.Client("").Sys().RekeyStatusWithContext(context.Background()); err != nil || !st.Started {
		t.Fatalf("no probe left in Vault: %+v %v", st, err)
	}
	c.vi("rekey")
	c.settledAndOpens()
}

// TestRekeyHoldsTheLock: while one `vault-init rekey` runs (paused with its
// new keys pending), a second one does not start: it waits for the
// keystore's lock, gives up (exit 1), and changes nothing. The first then
// finishes.
func TestRekeyHoldsTheLock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the lock (10 s); run without -short")
	}
	c := &rekeyRun{t: t, srv: vaulttest.Start(t, vaulttest.Options{}), dir: t.TempDir()}
	c.vi("run", "--once")
	resume := t.TempDir() + "/resume"
	first := c.start([]string{"rekey"}, "VAULT_INIT_FAULT=rekey-after-pending:pause", "VAULT_INIT_FAULT_RESUME="+resume)
	first.WaitFor("FAULTINJECT rekey-after-pending ", 60*time.Second)
	pending := loadKeys(t, c.dir)
	c.seen = append(c.seen, pending)
	second := c.start([]string{"rekey"})
	if code, _ := second.Wait(30 * time.Second); code != 1 {
		t.Fatalf("the second rekey: exit %d, want 1", code)
	}
	if !strings.Contains(second.Stderr.String(), "lock keystore") || !loadKeys(t, c.dir).Equal(pending) {
		t.Fatalf("the second rekey did not stop at the lock, or changed the keystore:\n%s", second.Stderr.String())
	}
	if err := os.WriteFile(resume, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := first.Wait(30 * time.Second); code != 0 {
		t.Fatalf("the first rekey: exit %d\n%s", code, first.Stderr.String())
	}
	c.seen = append(c.seen, loadKeys(t, c.dir))
	c.settledAndOpens()
	for _, p := range c.procs {
		p.Knows(c.seen...)
	}
}
