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
// a row; an unseal that went through, or a node seen unsealed or
// uninitialized (its Raft data emptied, to join afresh), starts the count
// again, and a sealed one does not.
func TestPendingPatience(t *testing.T) {
	p := &Patience{Rounds: 3}
	now := time.Now()
	for _, reset := range []func(){p.Unsealed, func() { p.Observed(vaultstate.Standby) }, func() { p.Observed(vaultstate.Uninitialized) }} {
		for i := 1; i < 3; i++ {
			if err := p.Pending(now); err != nil {
				t.Fatalf("failed at round %d, before 3: %v", i, err)
			}
			p.Observed(vaultstate.Sealed)
		}
		if err := p.Pending(now); err == nil || !strings.Contains(err.Error(), "stays sealed after 3 rounds") {
			t.Fatalf("round 3: %v", err)
		}
		reset()
	}
}

// TestNoDataWaitsRoundsAndTime: a node that took the threshold key for
// its join (Pending) and then answers as a member without data (NoData) is
// one join that has not finished: the rounds add up, and the report waits
// for both the rounds and DataWait since the first round without data. It
// names the likely cause with Vault's answer, and an unseal, or the node
// seen uninitialized, starts both counts again.
func TestNoDataWaitsRoundsAndTime(t *testing.T) {
	const answer = "vault answers 500: failed to create cipher: crypto/aes: invalid key size 0"
	p := &Patience{Rounds: 3, DataWait: time.Minute}
	t0 := time.Now()
	if err := p.Pending(t0); err != nil {
		t.Fatalf("round 1: %v", err)
	}
	if err := p.NoData(t0, answer); err != nil {
		t.Fatalf("round 2: %v", err)
	}
	if err := p.NoData(t0.Add(59*time.Second), answer); err != nil {
		t.Fatalf("round 3, before DataWait: %v", err)
	}
	err := p.NoData(t0.Add(time.Minute), answer)
	if err == nil || !strings.Contains(err.Error(), "none of the cluster's data for 1m0s or more (3 rounds of the threshold key; "+answer+")") ||
		!strings.Contains(err.Error(), "cannot reach this node's cluster address") {
		t.Fatalf("round 4: %v", err)
	}
	// A Pending round after rounds without data waits for DataWait too.
	p.Observed(vaultstate.Uninitialized)
	p.NoData(t0, answer)
	p.NoData(t0, answer)
	if err := p.Pending(t0.Add(30 * time.Second)); err != nil {
		t.Fatalf("a pending round 30s after the first without data: %v", err)
	}
	if err := p.Pending(t0.Add(time.Minute)); err == nil {
		t.Fatal("a pending round past both patiences was not reported")
	}

	for name, reset := range map[string]func(){"an unseal": p.Unsealed, "uninitialized": func() { p.Observed(vaultstate.Uninitialized) }} {
		reset()
		t1 := t0.Add(time.Hour)
		// DataWait passed, but not Rounds rounds: still waiting.
		if err := p.NoData(t1, answer); err != nil {
			t.Fatalf("after %s, round 1: %v", name, err)
		}
		if err := p.NoData(t1.Add(2*time.Minute), answer); err != nil {
			t.Fatalf("after %s, round 2 (DataWait passed): %v", name, err)
		}
		if err := p.NoData(t1.Add(2*time.Minute), answer); err == nil {
			t.Fatalf("after %s, round 3 past both: not reported", name)
		}
	}
}

// TestPendingAndNoDataShareTheCount: neither kind of round reaches Rounds
// alone; together they do.
func TestPendingAndNoDataShareTheCount(t *testing.T) {
	p := &Patience{Rounds: 4}
	now := time.Now()
	for i, round := range []func() error{
		func() error { return p.Pending(now) },
		func() error { return p.NoData(now, "") },
		func() error { return p.Pending(now) },
	} {
		if err := round(); err != nil {
			t.Fatalf("round %d: %v", i+1, err)
		}
	}
	if err := p.NoData(now, ""); err == nil {
		t.Fatal("round 4, 2 pending and 2 without data: not reported")
	}
}

// TestReportsRepeatTheirText: past the patience, every round reports the
// same text, so that the failure reporter sees an unchanged error (logged
// and notified again only every RepeatError), not a new one each round.
func TestReportsRepeatTheirText(t *testing.T) {
	t0 := time.Now()
	waits := map[string]func(*Patience, int) error{
		"not joined": func(p *Patience, _ int) error { return p.NotJoined() },
		"pending":    func(p *Patience, i int) error { return p.Pending(t0.Add(time.Duration(i) * time.Second)) },
		"no data": func(p *Patience, i int) error {
			return p.NoData(t0.Add(time.Duration(i)*time.Second), "vault answers 500")
		},
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
