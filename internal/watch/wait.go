package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/aurora/vault-init/internal/backoff"
)

// Every round ends in a wait of at least the check interval or the error
// backoff. The exceptions are bounded: FastPoll for FastPollFor after the
// node was last seen unsealed, and no wait where the next round is known to
// make progress (init, then unseal; an unseal, then its check).

// retryCheck is the wait after a failed health check: FastPoll shortly
// after the node was last seen unsealed (a killed or restarted Vault is
// back within seconds), the capped backoff otherwise. A node that answers
// its health check but fails every step after it is never seen unsealed,
// and so does not poll fast for ever.
func (n *node) retryCheck() time.Duration {
	if !n.unsealedAt.IsZero() && n.w.clock.Since(n.unsealedAt) < FastPollFor {
		return FastPoll
	}
	return n.reach.Next()
}

// disagreement is the wait after a step found Vault not in the state its
// health check had just reported. Once is a race (someone else initialized
// or unsealed it in between): the next check tells. Twice in a row, the
// replies contradict each other, as behind a balancer over several Vaults:
// that is reported (once, by failure.Reporter) and retried on the error
// backoff.
func (n *node) disagreement(what string) time.Duration {
	n.disagreed++
	if n.disagreed == 1 {
		return n.w.opts.CheckInterval
	}
	return n.fail(fmt.Errorf("sys/health says vault is %s, but %s: is VAULT_ADDR a load balancer over several Vaults, "+
		"or a proxy that changes replies? vault-init acts once they agree", n.state, what))
}

// sleep waits for d, or until ctx ends, or until the wake a step set ends.
// After an answered check, it also ends when Vault closes a connection: a
// killed or restarted Vault is looked at now, not one check interval later,
// and the fast polling of a lost answer takes over. Only once in a row, so
// that a server that closes every connection after answering costs one
// check more per interval, not a loop.
func (n *node) sleep(ctx context.Context, d time.Duration) error {
	wake, byLost := n.wake, false
	n.wake = nil
	if wake == nil && n.state.Answered() && !n.woken {
		wake, byLost = n.lost, true
	}
	woken, err := backoff.SleepOrWake(ctx, n.w.clock, d, wake)
	if woken && byLost {
		n.log.Debug("vault closed a connection; checking it now")
	}
	n.woken = woken && byLost
	return err
}
