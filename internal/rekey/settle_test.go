package rekey_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/rekey"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// started runs a rekey by hand up to its new keys (awaiting verification),
// and saves them in the keystore as pending, as a vault-init that crashed
// after that save leaves it.
func started(t *testing.T, f *fixture) (nonce string, up *api.RekeyUpdateResponse) {
	t.Helper()
	ctx := context.Background()
	st, err := f.sys.RekeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 4, SecretThreshold: 3, RequireVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range f.init.Keys {
		if up, err = f.sys.RekeyUpdateWithContext(ctx, k, st.Nonce); err != nil {
			t.Fatal(err)
		}
		if up.Complete {
			break
		}
	}
	d := f.init.Clone()
	d.Pending = &keystore.Pending{Kind: keystore.PendingRekey, StartedAt: time.Now().UTC(), Nonce: st.Nonce,
		Shares: 4, Threshold: 3, Keys: up.Keys, KeysB64: up.KeysB64}
	if err := f.dir.Save(d); err != nil {
		t.Fatal(err)
	}
	if err := f.dir.SaveRekeyNonce(st.Nonce); err != nil {
		t.Fatal(err)
	}
	return st.Nonce, up
}

// TestSettleInterrupted: a rekey left pending by a crash is settled by
// what Vault says, then the new rekey runs from the settled keys (it fails
// if settling chose the wrong set: Vault refuses them).
func TestSettleInterrupted(t *testing.T) {
	cases := []struct {
		name  string
		after func(t *testing.T, f *fixture, nonce string, up *api.RekeyUpdateResponse)
		want  string
	}{
		{"awaiting verification", func(*testing.T, *fixture, string, *api.RekeyUpdateResponse) {},
			"finished the verification"},
		{"awaiting verification, one key verified", func(t *testing.T, f *fixture, _ string, up *api.RekeyUpdateResponse) {
			if _, err := f.sys.RekeyVerificationUpdateWithContext(context.Background(), up.Keys[0], up.VerificationNonce); err != nil {
				t.Fatal(err)
			}
		}, "finished the verification"},
		{"cancelled: vault keeps the old keys", func(t *testing.T, f *fixture, nonce string, _ *api.RekeyUpdateResponse) {
			if err := f.sys.RekeyCancelWithContextWithNonce(context.Background(), nonce); err != nil {
				t.Fatal(err)
			}
		}, "never took effect"},
		{"verified: vault uses the new keys", func(t *testing.T, f *fixture, _ string, up *api.RekeyUpdateResponse) {
			for _, k := range up.Keys[:3] {
				if _, err := f.sys.RekeyVerificationUpdateWithContext(context.Background(), k, up.VerificationNonce); err != nil {
					t.Fatal(err)
				}
			}
		}, "had taken effect"},
		{"verified, and a probe of ours left by a crash", func(t *testing.T, f *fixture, _ string, up *api.RekeyUpdateResponse) {
			ctx := context.Background()
			for _, k := range up.Keys[:3] {
				if _, err := f.sys.RekeyVerificationUpdateWithContext(ctx, k, up.VerificationNonce); err != nil {
					t.Fatal(err)
				}
			}
			probe, err := f.sys.RekeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 1, SecretThreshold: 1, RequireVerification: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.dir.SaveRekeyNonce(probe.Nonce); err != nil {
				t.Fatal(err)
			}
		}, "had taken effect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3, 2, "")
			nonce, up := started(t, f)
			tc.after(t, f, nonce, up)
			pending := f.load(t)
			res, err := rekey.Run(context.Background(), f.sys, f.dir, f.dir, rekey.Options{Log: f.log})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(res.Settled, tc.want) {
				t.Fatalf("settled: %q, want %q", res.Settled, tc.want)
			}
			d := f.load(t)
			if d.Pending != nil || d.SecretShares != res.Shares {
				t.Fatalf("keystore: %v", d)
			}
			if st, _ := f.sys.RekeyStatusWithContext(context.Background()); st.Started {
				t.Fatal("a rekey (a probe?) was left started")
			}
			f.seal(t)
			if !f.opens(t, d.Keys) {
				t.Fatal("the keystore's keys do not unseal Vault")
			}
			f.scan(t, res.Settled, pending, d)
		})
	}
}

// TestSettleNeitherSet: when neither set is Vault's, the keystore is left
// as it is, and the probes are cancelled.
func TestSettleNeitherSet(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	other := newFixture(t, 3, 2, "")
	d := other.init.Clone()
	d.Pending = &keystore.Pending{Kind: keystore.PendingRekey, StartedAt: time.Now().UTC(), Nonce: "n",
		Shares: 3, Threshold: 2, Keys: other.init.Keys[:], KeysB64: other.init.KeysB64}
	d.Keys, d.KeysB64 = other.init.Keys[1:], other.init.KeysB64[1:]
	d.SecretShares = 2
	if err := f.dir.Save(d); err != nil {
		t.Fatal(err)
	}
	_, err := rekey.Run(context.Background(), f.sys, f.dir, f.dir, rekey.Options{Log: f.log})
	if err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("got %v", err)
	}
	if got := f.load(t); !got.Equal(d) {
		t.Fatal("the keystore changed")
	}
	if st, _ := f.sys.RekeyStatusWithContext(context.Background()); st.Started {
		t.Fatal("a probe was left started")
	}
	if n, _ := f.dir.LoadRekeyNonce(); n != "" {
		t.Fatal("a probe's nonce record was left")
	}
	f.scan(t, err.Error(), d)
}

// TestSettleWithSomeoneElsesRekey: a pending rekey cannot be settled while
// someone else's rekey runs; theirs is not cancelled.
func TestSettleWithSomeoneElsesRekey(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	nonce, _ := started(t, f)
	ctx := context.Background()
	if err := f.sys.RekeyCancelWithContextWithNonce(ctx, nonce); err != nil {
		t.Fatal(err)
	}
	theirs, err := f.sys.RekeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	pending := f.load(t)
	_, err = rekey.Run(ctx, f.sys, f.dir, f.dir, rekey.Options{Log: f.log})
	var busy *rekey.BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("got %v, want a BusyError", err)
	}
	if st, _ := f.sys.RekeyStatusWithContext(ctx); !st.Started || st.Nonce != theirs.Nonce {
		t.Fatal("their rekey was cancelled")
	}
	if !f.load(t).Equal(pending) {
		t.Fatal("the keystore changed")
	}
	f.scan(t, err.Error(), pending)
}

// TestWrongSetAtThreshold records what the probe relies on: Vault refuses
// a rekey's wrong shares at its threshold with an error (500 on Shamir)
// and keeps the rekey started, with the same nonce and no progress.
func TestWrongSetAtThreshold(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	other := newFixture(t, 3, 2, "")
	ctx := context.Background()
	st, err := f.sys.RekeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 1, SecretThreshold: 1, RequireVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sys.RekeyUpdateWithContext(ctx, other.init.Keys[0], st.Nonce); err != nil {
		t.Fatal(err)
	}
	_, err = f.sys.RekeyUpdateWithContext(ctx, other.init.Keys[1], st.Nonce)
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 500 {
		t.Fatalf("the threshold key of a wrong set: %v", err)
	}
	after, err := f.sys.RekeyStatusWithContext(ctx)
	if err != nil || !after.Started || after.Nonce != st.Nonce || after.Progress != 0 {
		t.Fatalf("after a wrong set: %+v %v", after, err)
	}
}

// TestSettleRecovery: an interrupted recovery-key rekey that Vault had
// verified is found by the probe (sys/rekey-recovery-key refuses the old
// recovery keys) and completed; generate-root then works with the keys.
func TestSettleRecovery(t *testing.T) {
	seal, _ := vaulttest.TransitSeal(t)
	f := newFixture(t, 3, 2, seal)
	ctx := context.Background()
	st, err := f.sys.RekeyRecoveryKeyInitWithContext(ctx, &api.RekeyInitRequest{SecretShares: 2, SecretThreshold: 2, RequireVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	var up *api.RekeyUpdateResponse
	for _, k := range f.init.RecoveryKeys[:2] {
		if up, err = f.sys.RekeyRecoveryKeyUpdateWithContext(ctx, k, st.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range up.Keys {
		if _, err := f.sys.RekeyRecoveryKeyVerificationUpdateWithContext(ctx, k, up.VerificationNonce); err != nil {
			t.Fatal(err)
		}
	}
	d := f.init.Clone()
	d.Pending = &keystore.Pending{Kind: keystore.PendingRekey, StartedAt: time.Now().UTC(), Nonce: st.Nonce, Recovery: true,
		Shares: 2, Threshold: 2, Keys: up.Keys, KeysB64: up.KeysB64}
	if err := f.dir.Save(d); err != nil {
		t.Fatal(err)
	}
	res, err := rekey.Run(ctx, f.sys, f.dir, f.dir, rekey.Options{Log: f.log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Settled, "had taken effect") || res.OldShares != 2 || res.Shares != 2 || res.Threshold != 2 {
		t.Fatalf("result %+v", res)
	}
	final := f.load(t)
	if _, err := roottoken.Generate(ctx, f.sys, keystore.New(t.TempDir()), final.GenerateRootKeys()); err != nil {
		t.Fatalf("generate-root with the keystore's recovery keys: %v", err)
	}
	f.scan(t, res.Settled, d, final)
}
