package initializer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
)

// claimStore is a data dir whose init claim is answered by the test: held
// by another vault-init (a lasting claim, as a Kubernetes Secret's), or
// granted, recording what release was told.
type claimStore struct {
	*keystore.File
	held     *keystore.ClaimError
	holder   string
	released []bool
}

func (s *claimStore) Claim(holder string) (func(bool), error) {
	s.holder = holder
	if s.held != nil {
		return nil, s.held
	}
	return func(sent bool) { s.released = append(s.released, sent) }, nil
}

// A lasting claim of another vault-init ends Initialize at once, with the
// ClaimError: no wait, no sys/init.
func TestClaimedElsewhere(t *testing.T) {
	v := &fakeVault{}
	ks := &claimStore{File: keystore.New(t.TempDir()), held: &keystore.ClaimError{Holder: "vault-1 http://127.0.0.1:8200", Since: time.Now(), Where: "secret ns/keys"}}
	in, _, _ := newInit(v, ks)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := in.Initialize(ctx)
	var ce *keystore.ClaimError
	if !errors.As(err, &ce) || !errors.Is(err, keystore.ErrClaimed) || ctx.Err() != nil {
		t.Fatalf("err %v (context %v), want the ClaimError at once", err, ctx.Err())
	}
	if v.calls != 0 {
		t.Fatal("sys/init sent under another's claim")
	}
}

// release is told whether a sys/init left the process: a store whose
// claim outlives it keeps the claim only then.
func TestClaimReleaseSaysWhetherInitWasSent(t *testing.T) {
	t.Run("sent", func(t *testing.T) {
		ks := &claimStore{File: keystore.New(t.TempDir())}
		in, _, _ := newInit(&fakeVault{}, ks)
		in.Holder = "vault-0 http://127.0.0.1:8200"
		if _, err := in.Initialize(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(ks.released) != 1 || !ks.released[0] || ks.holder != in.Holder {
			t.Fatalf("released %v by %q, want [true] by the holder", ks.released, ks.holder)
		}
	})
	t.Run("refused before init", func(t *testing.T) {
		ks := &claimStore{File: keystore.New(t.TempDir())}
		v := &fakeVault{initialized: true}
		in, _, _ := newInit(v, ks)
		if _, err := in.Initialize(context.Background()); !errors.Is(err, ErrAlreadyInitialized) {
			t.Fatalf("err %v", err)
		}
		if len(ks.released) != 1 || ks.released[0] || v.calls != 0 {
			t.Fatalf("released %v, want [false]", ks.released)
		}
	})
}
