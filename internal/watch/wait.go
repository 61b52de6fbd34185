package watch

import (
	"context"
	"time"

	"github.com/aurora/vault-init/internal/backoff"
)

// retryCheck is the wait after a failed health check: FastPoll shortly
// after the node last answered, the capped backoff otherwise.
func (n *node) retryCheck() time.Duration {
	if !n.answeredAt.IsZero() && time.Since(n.answeredAt) < FastPollFor {
		return FastPoll
	}
	return n.reach.Next()
}

// sleep waits for d, or until ctx ends. After an answered check, it also
// ends when Vault closes a connection: a killed or restarted Vault is looked
// at now, not one check interval later, and the fast polling of a lost
// answer takes over. Only once in a row, so that a server that closes every
// connection after answering costs one check more per interval, not a loop.
func (n *node) sleep(ctx context.Context, d time.Duration) error {
	var lost <-chan struct{}
	if n.state.Answered() && !n.woken {
		lost = n.lost
	}
	woken, err := backoff.SleepOrWake(ctx, d, lost)
	if woken {
		n.log.Debug("vault closed a connection; checking it now")
	}
	n.woken = woken
	return err
}
