package watch_test

import (
	"context"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// transitSeal is the seal stanza of a transit Vault started for the test.
func transitSeal(t *testing.T) string {
	t.Helper()
	stanza, _ := vaulttest.TransitSeal(t)
	return stanza
}

// TestTransitAutoUnseal: a Vault whose seal is a second Vault's transit
// engine. vault-init initializes it with recovery keys, stores them, prints
// the banner, configures the mount, and never sends a key to sys/unseal.
func TestTransitAutoUnseal(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{ExtraConfig: transitSeal(t)})
	px := testkit.NewProxy(t, srv.Addr())
	dataDir := t.TempDir()
	h := runAt(t, px.Addr(), dataDir)
	h.Wait("ready", 60*time.Second, isReady)
	h.Out.WaitFor(t, "Root Token:", 5*time.Second)

	d := h.Keys()
	if d.SealType != "transit" || !d.AutoUnseal() || len(d.RecoveryKeys) != 5 || d.RecoveryThreshold != 3 || len(d.Keys) != 0 {
		t.Fatalf("keystore %v, want 5 transit recovery keys and no unseal keys", d)
	}
	vaulttest.AssertNoSecrets(t, "the logs", h.Logs.String(), d) // the recovery keys too
	assertKVv2(t, srv.Client(d.RootToken))

	// Restarted, it unseals itself through transit; vault-init only watches.
	srv.Kill()
	srv.Restart()
	srv.WaitFor("auto-unseal after restart", 30*time.Second, vaulttest.Unsealed)
	// Sealed through the API, it stays sealed: vault-init says why, and
	// does not submit the recovery keys.
	if err := srv.Client(d.RootToken).Sys().SealWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Logs.WaitFor(t, "vault-init never submits recovery keys", 30*time.Second)
	if n := px.Count("", "/v1/sys/unseal"); n != 0 {
		t.Fatalf("%d requests to sys/unseal on an auto-unseal Vault", n)
	}
	if !srv.Health().Sealed {
		t.Fatal("vault unsealed")
	}
}
