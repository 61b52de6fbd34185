package watch

import (
	"context"
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
