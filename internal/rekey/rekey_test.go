package rekey_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/rekey"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestShamirRekey: new unseal keys with new counts; afterwards the old
// shares do not unseal a sealed Vault and the new ones do.
func TestShamirRekey(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	ctx := context.Background()
	res, err := rekey.Run(ctx, f.sys, f.dir, f.dir, rekey.Options{Shares: 5, Threshold: 3, Node: f.srv.Addr(), Log: f.log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Recovery || res.OldShares != 3 || res.OldThreshold != 2 || res.Shares != 5 || res.Threshold != 3 || res.Settled != "" {
		t.Fatalf("result %+v", res)
	}
	d := f.load(t)
	if d.Pending != nil || d.SecretShares != 5 || d.SecretThreshold != 3 || len(d.Keys) != 5 || len(d.KeysB64) != 5 {
		t.Fatalf("keystore after the rekey: %v, pending %v", d, d.Pending)
	}
	if slices.Contains(d.Keys, f.init.Keys[0]) || d.RootToken != f.init.RootToken || !d.CreatedAt.Equal(f.init.CreatedAt) {
		t.Fatal("the keystore kept an old key, or lost what the rekey does not change")
	}
	if n, _ := f.dir.LoadRekeyNonce(); n != "" {
		t.Fatal("the nonce record outlived the rekey")
	}
	if st, _ := f.sys.RekeyStatusWithContext(ctx); st.Started || st.Required != 3 {
		t.Fatalf("vault's rekey status afterwards: %+v", st)
	}
	f.seal(t)
	if f.opens(t, f.init.Keys) {
		t.Fatal("the old shares still unseal Vault")
	}
	if !f.sealedNow(t) || !f.opens(t, d.Keys[2:]) {
		t.Fatal("the new shares do not unseal Vault")
	}
	f.scan(t, fmt.Sprintf("%+v", res), d)
}

// TestRecoveryRekey: an auto-unseal Vault's recovery keys are rekeyed
// (sys/rekey-recovery-key); generate-root works with the new ones and not
// with the old ones.
func TestRecoveryRekey(t *testing.T) {
	seal, _ := vaulttest.TransitSeal(t)
	f := newFixture(t, 3, 2, seal)
	ctx := context.Background()
	res, err := rekey.Run(ctx, f.sys, f.dir, f.dir, rekey.Options{Shares: 4, Threshold: 3, Log: f.log})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Recovery || res.OldShares != 3 || res.Shares != 4 || res.Threshold != 3 {
		t.Fatalf("result %+v", res)
	}
	d := f.load(t)
	if d.Pending != nil || d.RecoveryShares != 4 || d.RecoveryThreshold != 3 || len(d.RecoveryKeys) != 4 || len(d.Keys) != 0 {
		t.Fatalf("keystore after the rekey: %v", d)
	}
	nonces := keystore.New(t.TempDir())
	if _, err := roottoken.Generate(ctx, f.sys, nonces, f.init.RecoveryKeys); err == nil {
		t.Fatal("generate-root worked with the old recovery keys")
	}
	tok, err := roottoken.Generate(ctx, f.sys, nonces, d.GenerateRootKeys())
	if err != nil {
		t.Fatalf("generate-root with the new recovery keys: %v", err)
	}
	if _, err := f.srv.Client(tok).Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	f.scan(t, fmt.Sprintf("%+v", res), d)
}

// TestSomeoneElsesRekey: a rekey that vault-init did not start is
// reported (a *BusyError, for either kind of key) and never cancelled.
func TestSomeoneElsesRekey(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	ctx := context.Background()
	theirs, err := f.sys.RekeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sys.RekeyUpdateWithContext(ctx, f.init.Keys[2], theirs.Nonce); err != nil {
		t.Fatal(err)
	}
	var out string
	for _, mine := range []string{"", "another-nonce"} {
		if mine != "" {
			if err := f.dir.SaveRekeyNonce(mine); err != nil {
				t.Fatal(err)
			}
		}
		_, err = rekey.Run(ctx, f.sys, f.dir, f.dir, rekey.Options{Log: f.log})
		var busy *rekey.BusyError
		if !errors.As(err, &busy) || busy.Progress != 1 || busy.Required != 2 || busy.Recovery {
			t.Fatalf("with record %q: got %v, want a BusyError at 1 of 2", mine, err)
		}
		out += err.Error()
	}
	st, err := f.sys.RekeyStatusWithContext(ctx)
	if err != nil || !st.Started || st.Nonce != theirs.Nonce || st.Progress != 1 {
		t.Fatalf("their rekey afterwards: %+v %v", st, err)
	}
	if !f.load(t).Equal(f.init) {
		t.Fatal("the keystore changed")
	}
	f.scan(t, out)
}

// TestOwnLeftoverIsCancelled: a rekey whose nonce is vault-init's record
// (left by a crash) is cancelled and a new one runs.
func TestOwnLeftoverIsCancelled(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	ctx := context.Background()
	left, err := f.sys.RekeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2, RequireVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.dir.SaveRekeyNonce(left.Nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := rekey.Run(ctx, f.sys, f.dir, f.dir, rekey.Options{Log: f.log}); err != nil {
		t.Fatal(err)
	}
	d := f.load(t)
	if slices.Equal(d.Keys, f.init.Keys) || d.SecretShares != 3 || d.SecretThreshold != 2 {
		t.Fatalf("keystore: %v", d)
	}
	f.seal(t)
	if !f.opens(t, d.Keys) {
		t.Fatal("the new keys do not unseal Vault")
	}
	f.scan(t, "", d)
}

// TestCountsRefused: counts Vault would refuse are refused before any
// rekey starts.
func TestCountsRefused(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	ctx := context.Background()
	for _, c := range []struct{ shares, threshold int }{{3, 4}, {0, 4}, {3, -1}, {-2, 0}, {4, 1}, {256, 3}} {
		_, err := rekey.Run(ctx, f.sys, f.dir, f.dir, rekey.Options{Shares: c.shares, Threshold: c.threshold, Log: f.log})
		var ce *rekey.CountsError
		if !errors.As(err, &ce) {
			t.Errorf("%d of %d: got %v, want a CountsError", c.threshold, c.shares, err)
		}
	}
	if st, err := f.sys.RekeyStatusWithContext(ctx); err != nil || st.Started {
		t.Fatalf("a rekey was started: %+v %v", st, err)
	}
	if !f.load(t).Equal(f.init) {
		t.Fatal("the keystore changed")
	}
	// 1 of 1 is fine (a threshold of 1 with one share).
	if _, _, err := rekey.Counts(f.init, 1, 1); err != nil {
		t.Fatal(err)
	}
}
