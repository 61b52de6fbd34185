package vaulttest

import "testing"

// TestInitialized: a Shamir Vault holds the unseal keys and counts, an
// auto-unseal Vault the recovery keys and its seal's type; both come back
// unsealed and active.
func TestInitialized(t *testing.T) {
	srv, d := Initialized(t, Options{}, 3, 2)
	if d.SealType != "shamir" || len(d.Keys) != 3 || len(d.KeysB64) != 3 || d.SecretShares != 3 || d.SecretThreshold != 2 ||
		len(d.RecoveryKeys) != 0 || d.RootToken == "" || d.VaultAddr != srv.Addr() {
		t.Fatalf("shamir: %s", d)
	}
	if h := srv.Health(); !Unsealed(h) || h.Standby {
		t.Fatalf("shamir: health %+v", h)
	}
	stanza, _ := TransitSeal(t)
	srv, d = Initialized(t, Options{ExtraConfig: stanza}, 3, 2)
	if d.SealType != "transit" || !d.AutoUnseal() || len(d.RecoveryKeys) != 3 || len(d.RecoveryKeysB64) != 3 ||
		d.RecoveryShares != 3 || d.RecoveryThreshold != 2 || len(d.Keys) != 0 || d.SecretThreshold != 0 {
		t.Fatalf("transit: %s", d)
	}
	if h := srv.Health(); !Unsealed(h) || h.Standby {
		t.Fatalf("transit: health %+v", h)
	}
}
