package cli

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestRunFinishesMigrationBackToShamir: a migration back to Shamir that
// Vault finished, and that a crash kept from the keystore (it still says
// transit, with the migration pending). After a restart of Vault (sealed,
// Shamir), `run --once` must unseal it with the recovery keys, which are
// its unseal keys now, and record that; before, it found no unseal keys
// for an auto-unseal keystore and never returned.
func TestRunFinishesMigrationBackToShamir(t *testing.T) {
	clearEnv(t)
	stanza, _ := vaulttest.TransitSeal(t)
	srv, d := vaulttest.Initialized(t, vaulttest.Options{ExtraConfig: stanza}, 5, 3)
	ctx := context.Background()
	dir := t.TempDir()
	// Vault migrates back to Shamir (what `vault-init migrate` sends) ...
	srv.Stop()
	srv.SetExtraConfig(vaulttest.Disabled(stanza))
	srv.Restart()
	for _, k := range d.RecoveryKeys[:3] {
		if _, err := srv.Client("").Sys().UnsealWithOptionsWithContext(ctx, &api.UnsealOpts{Key: k, Migrate: true}); err != nil {
			t.Fatal(err)
		}
	}
	if st := sealStatus(t, srv); st.Sealed || st.Type != "shamir" {
		t.Fatalf("the migration back to Shamir did not happen: %+v", st)
	}
	// ... and the keystore kept only the pending record of it.
	d.Pending = &keystore.Pending{Kind: keystore.PendingSealMigration, StartedAt: time.Now().UTC(), SealType: "shamir"}
	if err := keystore.New(dir).Save(d); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.SetExtraConfig("")
	srv.Restart()

	var out vaulttest.Buffer
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if code := Run(rctx, []string{"run", "--once", "--vault-addr", srv.Addr(), "--data-dir", dir}, &out, &out); code != 0 || rctx.Err() != nil {
		t.Fatalf("run --once: exit %d (timed out: %v)\n%s", code, rctx.Err() != nil, out.String())
	}
	if st := sealStatus(t, srv); st.Sealed {
		t.Fatal("vault is still sealed")
	}
	got, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Pending != nil || got.AutoUnseal() || !slices.Equal(got.Keys, d.RecoveryKeys) || got.SecretThreshold != 3 {
		t.Fatalf("keystore after run --once: %v", got)
	}
	vaulttest.AssertNoSecrets(t, "vault-init's output", vaulttest.WithoutBanner(out.String()), d)
}
