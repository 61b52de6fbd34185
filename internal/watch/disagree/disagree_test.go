package disagree

import (
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/vaultstate"
)

// TestStep: the first contradiction in a row is a race; the second and
// each after it are reported, until an answer changes the state.
func TestStep(t *testing.T) {
	var r Replies
	for round := range 2 {
		if err := r.Step(vaultstate.Sealed, "sys/seal-status says it is unsealed"); err != nil {
			t.Fatalf("round %d: the first contradiction is reported: %v", round, err)
		}
		for range 2 {
			err := r.Step(vaultstate.Sealed, "sys/seal-status says it is unsealed")
			if err == nil || !strings.HasPrefix(err.Error(), "sys/health says vault is sealed, but sys/seal-status says it is unsealed: ") {
				t.Fatalf("round %d: a contradiction in a row: %v", round, err)
			}
		}
		r.Answered()
	}
}

// TestUninitialized: once Vault said "already initialized", a health check
// that says "not initialized" is an error for the rest of the run.
func TestUninitialized(t *testing.T) {
	var r Replies
	if err := r.Uninitialized(); err != nil {
		t.Fatalf("before Vault said it is initialized: %v", err)
	}
	r.SaidInitialized()
	r.Answered() // a change of state does not end it
	for range 2 {
		if err := r.Uninitialized(); err == nil || !strings.Contains(err.Error(), "vault-init sends no sys/init again in this run") {
			t.Fatalf("after Vault said it is initialized: %v", err)
		}
	}
}
