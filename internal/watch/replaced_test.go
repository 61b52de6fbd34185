package watch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestKeystoreReplacedWhileRunning: the keystore comes to hold other keys
// while vault-init runs (another Vault's, written after the real one
// vanished). vault-init keeps unsealing with the keys it holds, says so,
// and writes nothing over what is stored.
func TestKeystoreReplacedWhileRunning(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	h := run(t, srv, dir, setup{})
	h.Wait("ready", 60*time.Second, isReady)
	real := h.Keys()
	other := real.Clone()
	other.CreatedAt = real.CreatedAt.Add(time.Hour)
	other.Keys, other.KeysB64 = nil, nil
	for i := range 5 {
		other.Keys = append(other.Keys, strings.Repeat(string(rune('a'+i)), 8)+"17f00d5eedc0ffee1234567890abcdef0123456789abcdef0123456789")
	}
	other.RootToken = "hvs.another-vaults-root-token-0123456789"
	if err := keystore.New(dir).Save(other); err != nil {
		t.Fatal(err)
	}
	h.Knows(real, other)
	if err := srv.Client(real.RootToken).Sys().SealWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor("unsealed with the keys in memory", 30*time.Second, vaulttest.Unsealed)
	h.Logs.WaitFor(t, "the keystore now holds other keys", 5*time.Second)
	if now := h.Keys(); !now.Equal(other) {
		t.Fatal("the stored keystore was changed")
	}
}
