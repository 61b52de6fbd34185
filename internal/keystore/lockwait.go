package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aurora/vault-init/internal/backoff"
)

// DefaultLockWait is how long LockWithin waits, by default, for a lock that
// another holder has: `vault-init run` holds it only while it saves, so a
// one-shot command (migrate, rekey) that waits longer finds a stuck holder.
const DefaultLockWait = 10 * time.Second

// lockRetry is the pause between two attempts of LockWithin.
const lockRetry = 200 * time.Millisecond

// LockWithin takes a lock through lock (Keys.Lock, Store.Lock), trying again
// every 200 ms while another holder has it (an error matching ErrClaimed),
// for up to wait (DefaultLockWait when wait is 0 or less). It returns the
// unlock function; an error "lock keystore: ..." wrapping lock's error when
// that error is another one or the wait runs out (it still matches
// ErrClaimed, or ErrLocked for a data dir); or ctx.Err() when ctx ends first.
func LockWithin(ctx context.Context, lock func() (unlock func(), err error), wait time.Duration) (func(), error) {
	if wait <= 0 {
		wait = DefaultLockWait
	}
	deadline := time.Now().Add(wait)
	for {
		unlock, err := lock()
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, ErrClaimed) || time.Now().After(deadline) {
			return nil, fmt.Errorf("lock keystore: %w", err)
		}
		if err := backoff.Sleep(ctx, lockRetry); err != nil {
			return nil, err
		}
	}
}
