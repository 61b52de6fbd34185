package rekey_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/rekey"
)

// racingStore is the data dir as a rekey's keystore, where someone else
// writes between the rekey's pending save and its last one (a watch loop
// on another pod sharing a Secret, which only a compare-and-swap keeps
// apart): that write drops the pending keys and changes another field, and
// the rekey's next save fails as a Secret's would.
type racingStore struct {
	*keystore.File
	mu    sync.Mutex
	saves int
}

func (s *racingStore) Save(d *keystore.InitData) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.saves == 2 { // the completed rekey's first save
		cur, err := s.File.Load()
		if err != nil {
			return err
		}
		other := cur.Abandoned()
		other.PendingRevoke = []string{"accessor-of-someone-else"}
		if err := s.File.Save(other); err != nil {
			return err
		}
		return errors.New("conflict: the keystore changed since it was read")
	}
	return s.File.Save(d)
}

// TestFinishAfterAConflictingWrite: Vault verified the new keys; the save
// that records them meets a conflicting write. The rekey must end with the
// new keys stored (over whatever was written), and keep the other write's
// change: they are Vault's only keys now.
func TestFinishAfterAConflictingWrite(t *testing.T) {
	f := newFixture(t, 3, 2, "")
	store := &racingStore{File: f.dir}
	res, err := rekey.Run(context.Background(), f.sys, store, f.dir, rekey.Options{Node: f.srv.Addr(), Log: f.log})
	if err != nil {
		t.Fatal(err)
	}
	d := f.load(t)
	if d.Pending != nil || len(d.Keys) != 3 || d.Keys[0] == f.init.Keys[0] || len(d.PendingRevoke) != 1 {
		t.Fatalf("keystore after the conflict: %v, pending revoke %d", d, len(d.PendingRevoke))
	}
	f.seal(t)
	if !f.opens(t, d.Keys[1:]) {
		t.Fatal("the stored keys do not unseal Vault")
	}
	f.scan(t, res.Settled, d)
}
