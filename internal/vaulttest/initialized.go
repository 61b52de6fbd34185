package vaulttest

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
)

// Initialized starts a server with opts and initializes it as vault-init
// does: a Shamir Vault gets shares unseal keys of threshold and is unsealed
// with them; a Vault whose opts.ExtraConfig holds a seal stanza (TransitSeal,
// AWSKMSSeal) gets that many recovery keys and unseals itself. It returns
// the server unsealed and active, and the init reply as the keystore holds
// it (SealType is Vault's seal type); saving it is the caller's.
func Initialized(t testing.TB, opts Options, shares, threshold int) (*Server, *keystore.InitData) {
	t.Helper()
	srv := Start(t, opts)
	ctx := context.Background()
	sys := srv.Client("").Sys()
	st, err := sys.SealStatusWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shamir := st.Type == "shamir"
	req := &api.InitRequest{SecretShares: shares, SecretThreshold: threshold}
	if !shamir {
		req = &api.InitRequest{RecoveryShares: shares, RecoveryThreshold: threshold}
	}
	resp, err := sys.InitWithContext(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	d := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now().UTC(), VaultAddr: srv.Addr(),
		Keys: resp.Keys, KeysB64: resp.KeysB64, RootToken: resp.RootToken, SealType: st.Type}
	if shamir {
		d.SecretShares, d.SecretThreshold = shares, threshold
		for _, k := range resp.Keys[:threshold] {
			if _, err := sys.UnsealWithContext(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		d.RecoveryShares, d.RecoveryThreshold = shares, threshold
		d.RecoveryKeys, d.RecoveryKeysB64 = resp.RecoveryKeys, resp.RecoveryKeysB64
	}
	srv.WaitFor("active", 30*time.Second, func(h *api.HealthResponse) bool { return Unsealed(h) && !h.Standby })
	return srv, d
}
