// Package disagree notices when one node's replies contradict each other,
// as behind a load balancer over several Vaults or a proxy that changes
// replies: sys/health says one thing, and the step right after it finds
// another. Acting on such replies could initialize a second, empty Vault,
// so the contradiction is reported instead of acted on.
//
// A Replies belongs to one node's loop: it is not safe for concurrent use.
package disagree

import (
	"errors"
	"fmt"

	"github.com/aurora/vault-init/internal/vaultstate"
)

// Replies remembers what one node's replies said.
type Replies struct {
	steps       int  // steps in a row that found Vault not in the state its health check said
	initialized bool // Vault answered "already initialized"
}

// Step records that a step found Vault not in the state health, its
// health check, had just said; found says what the step found. The first
// in a row is a race (someone else initialized or unsealed it in between):
// Step returns nil, and the next check tells. From the second in a row, the
// replies contradict each other, and Step returns the error to report.
func (r *Replies) Step(health vaultstate.State, found string) error {
	r.steps++
	if r.steps == 1 {
		return nil
	}
	return fmt.Errorf("sys/health says vault is %s, but %s: is VAULT_ADDR a load balancer over several Vaults, "+
		"or a proxy that changes replies? vault-init acts once they agree", health, found)
}

// Answered records a check whose answer changed the node's state: the
// steps in a row start again. (A failed check in between is no agreement.)
func (r *Replies) Answered() {
	r.steps = 0
}

// SaidInitialized records that Vault answered "already initialized"
// (sys/init, or sys/seal-status under the init lock).
func (r *Replies) SaidInitialized() {
	r.initialized = true
}

// Uninitialized is the check of a health check that says "not
// initialized": after SaidInitialized, it returns the error to report, and
// no sys/init may be sent (behind a balancer, it could reach another, empty
// Vault and make a second one) for the rest of the run; nil before.
func (r *Replies) Uninitialized() error {
	if !r.initialized {
		return nil
	}
	return errors.New("sys/health says vault is not initialized, but sys/seal-status or sys/init said it is: " +
		"is VAULT_ADDR a load balancer over several Vaults, or a proxy that changes replies? " +
		"vault-init sends no sys/init again in this run; restart it once the replies agree")
}
