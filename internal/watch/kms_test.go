package watch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// kmsInterval is the check interval of the KMS tests: long enough that a
// request count over a few seconds tells a loop that waits it from one
// that does not.
const kmsInterval = time.Second

// startKMSVault starts a Vault whose seal is an AWS KMS key served by
// local-kms, and vault-init watching it through a counting proxy; it waits
// until vault-init reports it ready.
func startKMSVault(t *testing.T) (*vaulttest.Server, *vaulttest.LocalKMS, *testkit.Proxy, *harness) {
	t.Helper()
	stanza, kms := vaulttest.AWSKMSSeal(t)
	srv := vaulttest.Start(t, vaulttest.Options{ExtraConfig: stanza})
	px := testkit.NewProxy(t, srv.Addr())
	h := watchtest.Start(t, watchtest.Options{Nodes: []string{px.Addr()}, Interval: kmsInterval})
	h.Wait("ready", 60*time.Second, isReady)
	return srv, kms, px, h
}

// TestAWSKMSAutoUnseal: vault-init initializes a Vault whose seal is AWS KMS
// (local-kms) with 5 recovery keys, stores them and sets the mount up; the
// restarted Vault unseals itself and vault-init sends nothing to
// sys/unseal. With the KMS down, the restarted Vault exits at startup;
// vault-init says Vault went away and polls it at its check interval, not
// in a loop. With the KMS back, Vault unseals itself again.
func TestAWSKMSAutoUnseal(t *testing.T) {
	t.Parallel()
	srv, kms, px, h := startKMSVault(t)
	h.Out.WaitFor(t, "Root Token:", 5*time.Second)
	d := h.Keys()
	if d.SealType != "awskms" || !d.AutoUnseal() || len(d.RecoveryKeys) != 5 || d.RecoveryThreshold != 3 || len(d.Keys) != 0 {
		t.Fatalf("keystore %v, want 5 awskms recovery keys (threshold 3) and no unseal keys", d)
	}
	assertKVv2(t, srv.Client(d.RootToken))

	// Restarted, it unseals itself through the KMS; vault-init only watches.
	// While Vault is stopped the proxy cuts every connection, as a gone
	// Vault's address refuses them (a proxy's 502 would be an answer).
	px.SetMode(testkit.Cut)
	srv.Stop()
	srv.Restart()
	px.SetMode(testkit.Pass)
	srv.WaitFor("auto-unseal after restart", 30*time.Second, vaulttest.Unsealed)
	h.Wait("a check of the restarted Vault", 30*time.Second, checkedSince(time.Now(), "active"))
	assertKVv2(t, srv.Client(d.RootToken))

	// KMS down: the restarted Vault cannot fetch its key and exits.
	px.SetMode(testkit.Cut)
	srv.Stop()
	kms.Stop()
	err := srv.TryRestart()
	if err == nil {
		t.Fatal("vault started with its KMS down")
	}
	if !strings.Contains(err.Error(), "error fetching AWS KMS wrapping key information") {
		t.Fatalf("vault exited, but its log does not say it could not reach AWS KMS:\n%v", err)
	}
	// vault-init says that Vault went away, and keeps looking.
	gone := h.Wait("a check of the gone Vault", 10*time.Second, checkedSince(time.Now(), "unreachable"))
	h.Wait("went away", time.Second, events.Is(events.WentAway, ""))
	h.Logs.WaitFor(t, `"msg":"vault state changed","state":"unreachable","previous":"active"`, time.Second)
	h.Logs.WaitFor(t, `"msg":"vault does not answer yet"`, time.Second)

	// No hot loop: after the fast polling that follows a Vault seen
	// unsealed (watch.FastPollFor), one health check per interval, plus
	// the backoff's climb to it from watch.FirstRetry.
	wait(t, time.Until(gone.Time.Add(watch.FastPollFor+time.Second)))
	const window = 5 * time.Second
	before := px.Count("", "")
	wait(t, window)
	n := px.Count("", "") - before
	climb := 0
	for d := watch.FirstRetry; d < kmsInterval; d *= 2 {
		climb++
	}
	if bound := int(window/kmsInterval) + climb + 2; n > bound {
		t.Fatalf("%d requests in %v to a gone Vault at a %v interval: a hot loop (at most %d)", n, window, kmsInterval, bound)
	}
	t.Logf("%d requests in %v while Vault was gone", n, window)

	// KMS back: Vault starts and unseals itself; vault-init finds it
	// active again, with its mount, and has still sent nothing to
	// sys/unseal.
	kms.Restart()
	srv.Restart()
	px.SetMode(testkit.Pass)
	srv.WaitFor("auto-unseal with the KMS back", 30*time.Second, vaulttest.Unsealed)
	h.Wait("a check of the Vault back", 30*time.Second, checkedSince(time.Now(), "active"))
	h.Logs.WaitFor(t, `"msg":"vault state changed","state":"active","previous":"unreachable"`, time.Second)
	assertKVv2(t, srv.Client(d.RootToken))
	if n := px.Count("", "/v1/sys/unseal"); n != 0 {
		t.Fatalf("%d requests to sys/unseal on an auto-unseal Vault", n)
	}
	if n := h.Events.Count(events.Is(events.Failed, "")); n != 0 {
		t.Fatalf("%d failures reported; a Vault that goes away and comes back is none", n)
	}
}

// TestAWSKMSSealedStaysSealed: an awskms Vault sealed through the API stays
// sealed; vault-init says why and never submits the recovery keys.
func TestAWSKMSSealedStaysSealed(t *testing.T) {
	t.Parallel()
	srv, _, px, h := startKMSVault(t)
	d := h.Keys()
	if err := srv.Client(d.RootToken).Sys().SealWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Logs.WaitFor(t, "auto-unseal seal and is sealed", 30*time.Second)
	h.Logs.WaitFor(t, "vault-init never submits recovery keys", time.Second)
	wait(t, 3*kmsInterval) // rounds in which it could, if it would
	if n := px.Count("", "/v1/sys/unseal"); n != 0 {
		t.Fatalf("%d requests to sys/unseal on an auto-unseal Vault", n)
	}
	if !srv.Health().Sealed {
		t.Fatal("vault unsealed")
	}
}

// checkedSince matches a health check made after since that found state.
func checkedSince(since time.Time, state string) func(events.Event) bool {
	return func(e events.Event) bool {
		return e.Kind == events.Checked && e.State == state && e.Time.After(since)
	}
}

// wait lets real time pass (a count window, not a pass/fail on timing).
func wait(t *testing.T, d time.Duration) {
	t.Helper()
	if d > 0 {
		time.Sleep(d)
	}
}
