package join

import (
	"errors"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaultstate"
)

// TestChecksPatience: a node found uninitialized is reported at the
// 3×Rounds-th check in a row, and not one check before, whichever reason
// it waits for; an initialized node starts the count again.
func TestChecksPatience(t *testing.T) {
	claim := errors.New("claimed")
	waits := map[string]func(*Patience) error{
		"not joined":        (*Patience).NotJoined,
		"peer without keys": func(p *Patience) error { return p.PeerWithoutKeys("https://vault-1:8200", "secret/vault-init") },
		"claimed":           func(p *Patience) error { return p.Claimed(claim) },
	}
	for name, wait := range waits {
		t.Run(name, func(t *testing.T) {
			p := &Patience{Rounds: 2}
			for round := range 2 {
				for i := 1; i < 6; i++ {
					if err := wait(p); err != nil {
						t.Fatalf("round %d: reported at check %d, before 6: %v", round, i, err)
					}
				}
				if err := wait(p); err == nil {
					t.Fatalf("round %d: not reported at check 6", round)
				}
				p.Observed(vaultstate.Uninitialized) // still waiting: no reset
				if err := wait(p); err == nil {
					t.Fatalf("round %d: not reported at check 7", round)
				}
				p.Observed(vaultstate.Sealed)
			}
		})
	}
}

func TestErrorsSayWhy(t *testing.T) {
	p := &Patience{Rounds: 0}
	if err := p.NotJoined(); !strings.Contains(err.Error(), "has not joined the cluster after 1 checks") {
		t.Fatalf("not joined: %v", err)
	}
	if err := p.PeerWithoutKeys("https://vault-1:8200", "secret/vault-init"); !strings.Contains(err.Error(),
		"peer https://vault-1:8200 is initialized, but the keystore secret/vault-init holds no keys") {
		t.Fatalf("peer without keys: %v", err)
	}
	if err := p.Claimed(keystore.ErrClaimed); !errors.Is(err, keystore.ErrClaimed) {
		t.Fatalf("claimed: %v does not wrap the claim", err)
	}
}

// TestPendingPatience: an unseal failure at the Rounds-th pending round in
// a row; an unseal that went through, or a node seen unsealed, starts the
// count again, and a sealed one does not.
func TestPendingPatience(t *testing.T) {
	p := &Patience{Rounds: 3}
	for _, reset := range []func(){p.Unsealed, func() { p.Observed(vaultstate.Standby) }} {
		for i := 1; i < 3; i++ {
			if err := p.Pending(); err != nil {
				t.Fatalf("failed at round %d, before 3: %v", i, err)
			}
			p.Observed(vaultstate.Sealed)
		}
		if err := p.Pending(); err == nil || !strings.Contains(err.Error(), "stays sealed after 3 rounds") {
			t.Fatalf("round 3: %v", err)
		}
		reset()
	}
}

// TestNoDataSharesThePendingCount: a node that took the threshold key for
// its join (Pending) and then answers as a member without data (NoData) is
// one join that has not finished: the rounds add up, and the report names
// the unreachable cluster address.
func TestNoDataSharesThePendingCount(t *testing.T) {
	p := &Patience{Rounds: 3}
	if err := p.Pending(); err != nil {
		t.Fatalf("round 1: %v", err)
	}
	if err := p.NoData(); err != nil {
		t.Fatalf("round 2: %v", err)
	}
	err := p.NoData()
	if err == nil || !strings.Contains(err.Error(), "after 3 rounds") || !strings.Contains(err.Error(), "cannot reach this node's cluster address") {
		t.Fatalf("round 3: %v", err)
	}
	p.Unsealed()
	if err := p.NoData(); err != nil {
		t.Fatalf("after an unseal: %v", err)
	}
}
