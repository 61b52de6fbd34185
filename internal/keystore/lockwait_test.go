package keystore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLockWithin: LockWithin waits while another holder has the data dir's
// lock and takes it once released; gives up with "lock keystore" and
// ErrLocked when the lock stays held past the wait; ends with ctx; and
// returns any other error at once.
func TestLockWithin(t *testing.T) {
	holder := New(t.TempDir())
	f := New(holder.Dir())
	held := func(t *testing.T) func() {
		t.Helper()
		unlock, err := holder.TryLock()
		if err != nil {
			t.Fatal(err)
		}
		return unlock
	}

	t.Run("released", func(t *testing.T) {
		release := held(t)
		released := make(chan struct{})
		go func() {
			timer := time.NewTimer(100 * time.Millisecond)
			<-timer.C
			close(released)
			release()
		}()
		unlock, err := LockWithin(context.Background(), f.TryLock, time.Minute)
		if err != nil {
			t.Fatalf("after the holder released the lock: %v", err)
		}
		defer unlock()
		select {
		case <-released:
		default:
			t.Fatal("took the lock while another held it")
		}
	})
	t.Run("held past the wait", func(t *testing.T) {
		defer held(t)()
		_, err := LockWithin(context.Background(), f.TryLock, 300*time.Millisecond)
		if !errors.Is(err, ErrLocked) || !strings.HasPrefix(err.Error(), "lock keystore: ") {
			t.Fatalf("error %v, want lock keystore: ... ErrLocked", err)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		defer held(t)()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := LockWithin(ctx, f.TryLock, time.Minute); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("another error", func(t *testing.T) {
		calls := 0
		broken := errors.New("disk gone")
		_, err := LockWithin(context.Background(), func() (func(), error) { calls++; return nil, broken }, time.Minute)
		if !errors.Is(err, broken) || calls != 1 {
			t.Fatalf("error %v after %d calls, want the error at once", err, calls)
		}
	})
}
