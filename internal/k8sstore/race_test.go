package k8sstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// errFoundKeys: a racer that came after the winner's save found the keys
// (its claim succeeds then, and its Load refuses the init).
var errFoundKeys = errors.New("found the winner's keys")

// Handles race as initializers do (claim, load: not found, save): exactly
// one saves; the others get a ClaimError naming the winner (or, when they
// come late, find its keys); the winner's keys are what the Secret holds.
func TestInitRace(t *testing.T) {
	e := newEnv(t)
	const n = 6
	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]error, n)
	saved := make([]*keystore.InitData, n)
	for i := range n {
		keys := keystore.NewKeys(e.open())
		wg.Go(func() {
			<-start
			holder := fmt.Sprintf("vault-%d", i)
			release, err := keys.Claim(holder)
			if err != nil {
				results[i] = err
				return
			}
			switch _, err := keys.Load(); {
			case err == nil: // came after the winner's save: keys, no init
				results[i] = errFoundKeys
				return
			case !errors.Is(err, keystore.ErrNotFound):
				results[i] = fmt.Errorf("load after the claim = %v, want ErrNotFound", err)
				release(false)
				return
			}
			d := storetest.Sample()
			d.RootToken = "hvs.root-of-" + holder
			results[i] = keys.Save(d)
			saved[i] = d
			release(true)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range results {
		var ce *keystore.ClaimError
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both saved keys", winner, i)
		case err == nil:
			winner = i
		case !errors.As(err, &ce) && !errors.Is(err, errFoundKeys):
			t.Errorf("racer %d: %v, want a ClaimError", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer saved keys: %v", results)
	}
	for i, err := range results {
		var ce *keystore.ClaimError
		if i != winner && errors.As(err, &ce) && ce.Holder != fmt.Sprintf("vault-%d", winner) {
			t.Errorf("racer %d's ClaimError names %q, want the winner vault-%d", i, ce.Holder, winner)
		}
	}
	got, err := keystore.NewKeys(e.open()).Load()
	if err != nil || !got.Equal(saved[winner]) {
		t.Fatalf("keystore after the race = %v, %v; want the winner's", got, err)
	}
}
