package join

import (
	"errors"
	"strings"
	"testing"
	"time"

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
	p := &Patience{Rounds: 1}
	p.NotJoined()
	p.NotJoined()
	if err := p.NotJoined(); err == nil || !strings.Contains(err.Error(), "has not joined the cluster after 3 checks") {
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

// TestNoDataWaitsRoundsAndTime: a node that took the threshold key for
// its join (Pending) and then answers as a member without data (NoData) is
// one join that has not finished: the rounds add up, and the report waits
// for both the rounds and DataWait since the first round without data. It
// names the likely cause, and an unseal starts both counts again.
func TestNoDataWaitsRoundsAndTime(t *testing.T) {
	p := &Patience{Rounds: 3, DataWait: time.Minute}
	t0 := time.Now()
	if err := p.Pending(); err != nil {
		t.Fatalf("round 1: %v", err)
	}
	if err := p.NoData(t0); err != nil {
		t.Fatalf("round 2: %v", err)
	}
	if err := p.NoData(t0.Add(59 * time.Second)); err != nil {
		t.Fatalf("round 3, before DataWait: %v", err)
	}
	err := p.NoData(t0.Add(time.Minute))
	if err == nil || !strings.Contains(err.Error(), "none of the cluster's data in 1m0s and 3 rounds") ||
		!strings.Contains(err.Error(), "cannot reach this node's cluster address") {
		t.Fatalf("round 4: %v", err)
	}
	p.Unsealed()
	t1 := t0.Add(time.Hour)
	for i := range 2 {
		if err := p.NoData(t1); err != nil {
			t.Fatalf("after an unseal, round %d: %v", i+1, err)
		}
	}
	if err := p.NoData(t1.Add(30 * time.Second)); err != nil {
		t.Fatalf("after an unseal, 3 rounds but 30s: %v", err)
	}
}

// TestReportsRepeatTheirText: past the patience, every round reports the
// same text, so that the failure reporter sees an unchanged error (logged
// and notified again only every RepeatError), not a new one each round.
func TestReportsRepeatTheirText(t *testing.T) {
	t0 := time.Now()
	waits := map[string]func(*Patience, int) error{
		"not joined": func(p *Patience, _ int) error { return p.NotJoined() },
		"pending":    func(p *Patience, _ int) error { return p.Pending() },
		"no data":    func(p *Patience, i int) error { return p.NoData(t0.Add(time.Duration(i) * time.Second)) },
	}
	for name, wait := range waits {
		p := &Patience{Rounds: 2, DataWait: 5 * time.Second}
		var last string
		for i := range 40 {
			err := wait(p, i)
			if err == nil {
				continue
			}
			if last != "" && err.Error() != last {
				t.Fatalf("%s: round %d reports %q, the round before %q", name, i, err, last)
			}
			last = err.Error()
		}
		if last == "" {
			t.Fatalf("%s: never reported", name)
		}
	}
}
