package migrate_test

import (
	"errors"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/migrate"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// racing is a keystore whose save of the settled migration fails once,
// after another writer (the watch loop, say) changed the stored record:
// a Secret's compare-and-swap write fails so.
type racing struct {
	migrate.Keystore
	raced bool
}

func (r *racing) Save(d *keystore.InitData) error {
	if r.raced || d.Pending != nil || !d.AutoUnseal() {
		return r.Keystore.Save(d)
	}
	r.raced = true
	cur, err := r.Keystore.Load()
	if err != nil {
		return err
	}
	other := cur.Clone()
	other.RootTokenRevoked = true
	if err := r.Keystore.Save(other); err != nil {
		return err
	}
	return errors.New("keystore changed since it was read")
}

// TestSettleAfterAConflictingWrite: when the keystore's last save fails
// because another writer changed it, migrate reads it again and saves the
// settled migration over what it holds now, keeping the other's change.
func TestSettleAfterAConflictingWrite(t *testing.T) {
	srv, keys, orig := startShamir(t)
	rk := &racing{Keystore: keys}
	r := newRunner(t, srv, rk, orig)
	stanza, _ := vaulttest.TransitSeal(t)
	reseal(t, srv, stanza)
	r.mustRun(migrate.Migrated)
	d := load(t, keys)
	if !rk.raced || !d.RootTokenRevoked {
		t.Fatalf("the other writer's change is lost (raced %t): %s", rk.raced, d)
	}
	d.RootTokenRevoked = false
	wantAuto(t, d, orig, "transit")
}
