package migrate_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/migrate"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestShamirToTransitAndBack migrates a Shamir Vault to a transit seal and
// back, each time checking Vault's seal, the keystore, and that the stored
// keys still open Vault after a restart.
func TestShamirToTransitAndBack(t *testing.T) {
	srv, keys, orig := startShamir(t)
	r := newRunner(t, srv, keys, orig)
	stanza, _ := vaulttest.TransitSeal(t)

	r.mustRun(migrate.Nothing) // no stanza yet: Vault is on the keystore's seal
	reseal(t, srv, stanza)
	if st := sealStatus(t, srv); !st.Migration || st.Type != "transit" {
		t.Fatalf("vault does not wait for a migration to transit: %+v", st)
	}
	res := r.mustRun(migrate.Migrated)
	if res.From != migrate.Shamir || res.To != "transit" || res.Shares != 5 || res.Threshold != 3 {
		t.Fatalf("result %+v", res)
	}
	st := sealStatus(t, srv)
	if st.Sealed || st.Type != "transit" || !st.RecoverySeal || st.Migration {
		t.Fatalf("after the migration: %+v", st)
	}
	wantAuto(t, load(t, keys), orig, "transit")

	srv.Stop()
	srv.Restart()
	srv.WaitFor("auto-unsealed after a restart", 60*time.Second, vaulttest.Unsealed)
	generateRoot(t, srv, load(t, keys).GenerateRootKeys())
	r.mustRun(migrate.Nothing)

	// Back to Shamir: the same stanza, disabled.
	reseal(t, srv, vaulttest.Disabled(stanza))
	if st := sealStatus(t, srv); !st.Migration || st.Type != migrate.Shamir {
		t.Fatalf("vault does not wait for a migration to shamir: %+v", st)
	}
	r.mustRun(migrate.Migrated)
	if st := sealStatus(t, srv); st.Sealed || st.Type != migrate.Shamir || st.Migration {
		t.Fatalf("after the migration back: %+v", st)
	}
	wantShamir(t, load(t, keys), orig)
	reseal(t, srv, "")
	if !sealStatus(t, srv).Sealed {
		t.Fatal("a Shamir Vault came up unsealed")
	}
	unsealWith(t, srv, load(t, keys).Keys)
}

// TestTransitToTransit moves an auto-unseal Vault from one transit Vault to
// another (the old stanza disabled): the recovery keys stay recovery keys,
// and only the seal's name would change (here it stays "transit").
func TestTransitToTransit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: three Vaults and three restarts")
	}
	srv, keys, orig := startShamir(t)
	r := newRunner(t, srv, keys, orig)
	first, firstServer := vaulttest.TransitSeal(t)
	reseal(t, srv, first)
	r.mustRun(migrate.Migrated)
	second, _ := vaulttest.TransitSeal(t)
	reseal(t, srv, vaulttest.Disabled(first)+second)
	st := sealStatus(t, srv)
	t.Logf("seal status with two transit stanzas: %+v", st)
	if !st.Migration {
		t.Fatalf("vault does not wait for a migration: %+v", st)
	}
	r.mustRun(migrate.Migrated)
	wantAuto(t, load(t, keys), orig, "transit")
	// Vault no longer needs the first transit Vault.
	firstServer.Stop()
	reseal(t, srv, second)
	srv.WaitFor("auto-unsealed through the second transit Vault", 60*time.Second, vaulttest.Unsealed)
	generateRoot(t, srv, load(t, keys).GenerateRootKeys())
}

// TestNewSealUnreachable: Vault with a transit stanza whose transit Vault
// is down exits at startup; migrate says that it cannot reach Vault, and
// changes nothing.
func TestNewSealUnreachable(t *testing.T) {
	srv, keys, orig := startShamir(t)
	r := newRunner(t, srv, keys, orig)
	stanza, transit := vaulttest.TransitSeal(t)
	transit.Stop()
	srv.Stop()
	srv.SetExtraConfig(stanza)
	if err := srv.TryRestart(); err == nil {
		t.Fatal("vault started with an unreachable seal")
	}
	_, err := r.run()
	if !errors.Is(err, migrate.ErrUnreachable) || !strings.Contains(err.Error(), "check Vault's logs") ||
		!strings.Contains(err.Error(), "Recovery keys cannot unseal it") {
		t.Fatalf("error %v, want ErrUnreachable with its advice", err)
	}
	if d := load(t, keys); !d.Equal(orig) {
		t.Fatalf("the keystore changed: %s", d)
	}
}

// TestInterruptedMigrationSettles: a crash can leave the keystore pending
// while Vault is migrated already (or never migrated, the stanza put back).
// The next run settles it either way.
func TestInterruptedMigrationSettles(t *testing.T) {
	srv, keys, orig := startShamir(t)
	r := newRunner(t, srv, keys, orig)
	pending := func() {
		t.Helper()
		d := orig.Clone()
		d.Pending = &keystore.Pending{Kind: keystore.PendingSealMigration, SealType: "transit", StartedAt: time.Now().UTC()}
		if err := keys.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	// The operator put the Shamir stanza back before the migration ended.
	pending()
	if res := r.mustRun(migrate.Abandoned); res.To != "transit" {
		t.Fatalf("result %+v", res)
	}
	if d := load(t, keys); !d.Equal(orig) {
		t.Fatalf("keystore after dropping the pending migration: %s", d)
	}
	// Vault migrated, and the crash came before the keystore said so.
	stanza, _ := vaulttest.TransitSeal(t)
	reseal(t, srv, stanza)
	for _, k := range orig.Keys[:3] {
		if _, err := srv.Client("").Sys().UnsealWithOptionsWithContext(context.Background(), &api.UnsealOpts{Key: k, Migrate: true}); err != nil {
			t.Fatal(err)
		}
	}
	pending()
	r.mustRun(migrate.Finished)
	wantAuto(t, load(t, keys), orig, "transit")
}

// TestResumeAfterFirstShare: a crash after the first share leaves Vault
// with progress 1 and the keystore pending; the next run sends every share
// again (Vault ignores the one it holds) and finishes.
func TestResumeAfterFirstShare(t *testing.T) {
	srv, keys, orig := startShamir(t)
	r := newRunner(t, srv, keys, orig)
	stanza, _ := vaulttest.TransitSeal(t)
	reseal(t, srv, stanza)
	d := orig.Clone()
	d.Pending = &keystore.Pending{Kind: keystore.PendingSealMigration, SealType: "transit", StartedAt: time.Now().UTC()}
	if err := keys.Save(d); err != nil {
		t.Fatal(err)
	}
	st, err := srv.Client("").Sys().UnsealWithOptionsWithContext(context.Background(), &api.UnsealOpts{Key: orig.Keys[0], Migrate: true})
	if err != nil || st.Progress != 1 {
		t.Fatalf("first share: %v, %+v", err, st)
	}
	r.mustRun(migrate.Migrated)
	wantAuto(t, load(t, keys), orig, "transit")
	if !strings.Contains(r.logs.String(), `"resumed": true`) {
		t.Fatal("the run did not say that it resumed a migration")
	}
}

// TestShamirToAWSKMS migrates a Shamir Vault to an awskms seal (local-kms),
// then from awskms to transit: the recovery keys keep their bytes and
// their name, and only the keystore's seal changes.
func TestShamirToAWSKMS(t *testing.T) {
	stanza, _ := vaulttest.AWSKMSSeal(t)
	srv, keys, orig := startShamir(t)
	r := newRunner(t, srv, keys, orig)
	reseal(t, srv, stanza)
	if st := sealStatus(t, srv); !st.Migration || st.Type != "awskms" {
		t.Fatalf("vault does not wait for a migration to awskms: %+v", st)
	}
	r.mustRun(migrate.Migrated)
	if st := sealStatus(t, srv); st.Sealed || st.Type != "awskms" || !st.RecoverySeal || st.Migration {
		t.Fatalf("after the migration: %+v", st)
	}
	wantAuto(t, load(t, keys), orig, "awskms")
	srv.Stop()
	srv.Restart()
	srv.WaitFor("auto-unsealed through local-kms", 60*time.Second, vaulttest.Unsealed)
	generateRoot(t, srv, load(t, keys).GenerateRootKeys())
	if testing.Short() {
		return
	}
	transit, _ := vaulttest.TransitSeal(t)
	reseal(t, srv, vaulttest.Disabled(stanza)+transit)
	if res := r.mustRun(migrate.Migrated); res.From != "awskms" || res.To != "transit" {
		t.Fatalf("result %+v", res)
	}
	wantAuto(t, load(t, keys), orig, "transit")
	reseal(t, srv, transit)
	srv.WaitFor("auto-unsealed through transit", 60*time.Second, vaulttest.Unsealed)
	generateRoot(t, srv, load(t, keys).GenerateRootKeys())
}

// TestLockHeld: while another holder has the keystore's lock, migrate
// waits for it and asks Vault nothing; once the lock is released it goes
// on (here to a Vault that does not answer). A lock held past LockWait
// makes it give up, again without a request.
func TestLockHeld(t *testing.T) {
	f := keystore.New(t.TempDir())
	if err := f.Keys.Save(&keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now().UTC(), SealType: migrate.Shamir,
		SecretShares: 1, SecretThreshold: 1, Keys: []string{"k0"}, KeysB64: []string{"k0"}}); err != nil {
		t.Fatal(err)
	}
	unlock, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	var released, calledLocked, called atomic.Bool
	vault := vaultFunc(func() {
		called.Store(true)
		if !released.Load() {
			calledLocked.Store(true)
		}
	})
	go func(unlock func()) { // its own copy: the flock's order is invisible to the race detector
		time.Sleep(100 * time.Millisecond)
		released.Store(true)
		unlock()
	}(unlock)
	_, err = migrate.Run(context.Background(), migrate.Options{Keys: f.Keys, Log: zap.NewNop(), LockWait: time.Minute,
		Nodes: []migrate.Node{{Addr: "x", Vault: vault}}})
	switch {
	case calledLocked.Load():
		t.Fatal("migrate asked Vault while another held the lock")
	case !called.Load() || !errors.Is(err, migrate.ErrUnreachable):
		t.Fatalf("after the lock was released: error %v (vault asked: %t), want the run to go on", err, called.Load())
	}

	unlockAgain, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlockAgain()
	called.Store(false)
	_, err = migrate.Run(context.Background(), migrate.Options{Keys: f.Keys, Log: zap.NewNop(), LockWait: 300 * time.Millisecond,
		Nodes: []migrate.Node{{Addr: "x", Vault: vault}}})
	if !errors.Is(err, keystore.ErrLocked) || called.Load() {
		t.Fatalf("error %v (vault asked: %t), want ErrLocked and no request", err, called.Load())
	}
}

// vaultFunc is a Vault that calls f on any request and answers nothing.
type vaultFunc func()

func (v vaultFunc) SealStatusWithContext(context.Context) (*api.SealStatusResponse, error) {
	v()
	return nil, errors.New("no vault")
}

func (v vaultFunc) UnsealWithOptionsWithContext(context.Context, *api.UnsealOpts) (*api.SealStatusResponse, error) {
	v()
	return nil, errors.New("no vault")
}
