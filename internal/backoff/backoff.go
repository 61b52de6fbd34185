// Package backoff is the one retry helper of vault-init: an exponential,
// jittered, capped delay and a context-aware wait. Every retry in the program
// goes through it, so there is no bare time.Sleep anywhere else.
package backoff

import (
	"context"
	"time"

	cenkalti "github.com/cenkalti/backoff/v4"
	"k8s.io/utils/clock"
)

// Backoff hands out growing delays between Initial and Max. It never gives
// up: stopping is the caller's decision, made through its context.
// A Backoff is not safe for concurrent use.
type Backoff struct {
	exp *cenkalti.ExponentialBackOff
}

// New returns a Backoff that starts at initial, doubles (with ±20 % jitter so
// that several vault-init processes do not poll in lockstep) and stays at max.
func New(initial, max time.Duration) *Backoff {
	if max < initial {
		max = initial
	}
	exp := cenkalti.NewExponentialBackOff(
		cenkalti.WithInitialInterval(initial),
		cenkalti.WithMaxInterval(max),
		cenkalti.WithMultiplier(2),
		cenkalti.WithRandomizationFactor(0.2),
		cenkalti.WithMaxElapsedTime(0), // never return Stop
	)
	return &Backoff{exp: exp}
}

// Next returns the delay before the next attempt. The jitter may take it
// up to 20 % past Max; it never goes below zero.
func (b *Backoff) Next() time.Duration {
	return b.exp.NextBackOff()
}

// Reset starts the sequence again at Initial, after a success.
func (b *Backoff) Reset() {
	b.exp.Reset()
}

// Sleep waits for d, or until ctx is done, whichever comes first. It returns
// ctx.Err() when the context ended the wait and nil otherwise.
func Sleep(ctx context.Context, d time.Duration) error {
	_, err := SleepOrWake(ctx, clock.RealClock{}, d, nil)
	return err
}

// SleepOrWake is Sleep on clk (clock.RealClock{} for the real time; a fake
// one in tests) that also ends when wake receives (a nil wake never does);
// woken says so. A d of zero or less does not wait: it returns ctx.Err().
func SleepOrWake(ctx context.Context, clk clock.Clock, d time.Duration, wake <-chan struct{}) (woken bool, err error) {
	if d <= 0 {
		return false, ctx.Err()
	}
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C():
		return false, nil
	case <-wake:
		return true, nil
	}
}
