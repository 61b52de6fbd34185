package setup_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap/zaptest"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/setup"
)

// TestAdminAfterInterruptedRekey: a rekey that a crash cut off after Vault
// took its new keys leaves the old keys stored and the new ones pending.
// With the root token revoked, the admin token is generated from the keys:
// the stored ones fail, and the pending ones must then be tried, or setup
// (and rotate) would fail until someone ran `vault-init rekey` again.
func TestAdminAfterInterruptedRekey(t *testing.T) {
	srv, local, d := initialized(t)
	ctx := context.Background()
	root := srv.Client(d.RootToken)
	st, err := root.Sys().RekeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	var done *api.RekeyUpdateResponse
	for _, k := range d.Keys[:3] {
		if done, err = root.Sys().RekeyUpdateWithContext(ctx, k, st.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !done.Complete || len(done.Keys) != 3 {
		t.Fatalf("rekey did not complete: %+v", done.Complete)
	}
	if err := root.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		t.Fatal(err)
	}
	interrupted := d.Clone()
	interrupted.RootToken, interrupted.RootTokenRevoked = "", true
	interrupted.Pending = &keystore.Pending{Kind: keystore.PendingRekey, StartedAt: time.Now().UTC(), Nonce: st.Nonce,
		Shares: 3, Threshold: 2, Keys: done.Keys, KeysB64: done.KeysB64}
	if err := local.Save(interrupted); err != nil {
		t.Fatal(err)
	}

	rec := &events.Recorder{}
	s, _ := newSetup(local, setup.Options{RevokeRoot: true}, rec)
	admin, release, err := s.Admin(ctx, setup.Node{Addr: srv.Addr(), Client: clientAt(t, srv.Addr()), Log: zaptest.NewLogger(t)})
	if err != nil {
		release()
		t.Fatalf("admin token after an interrupted rekey: %v", err)
	}
	if _, err := admin.Sys().ListMountsWithContext(ctx); err != nil {
		t.Fatalf("the generated admin token does not work: %v", err)
	}
	release()
	after, err := local.Load()
	if err != nil || len(after.PendingRevoke) != 0 {
		t.Fatalf("the generated token was not revoked and forgotten: %v, %v", after, err)
	}
}
