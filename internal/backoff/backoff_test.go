package backoff

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/utils/clock"
	testclock "k8s.io/utils/clock/testing"
)

func TestNextGrowsAndIsCapped(t *testing.T) {
	b := New(100*time.Millisecond, 400*time.Millisecond)
	var prev time.Duration
	for i := 0; i < 20; i++ {
		d := b.Next()
		if d <= 0 {
			t.Fatalf("attempt %d: delay %v, want > 0", i, d)
		}
		// Jitter is ±20 %, so the cap is 400 ms × 1.2.
		if d > 480*time.Millisecond {
			t.Fatalf("attempt %d: delay %v exceeds the cap", i, d)
		}
		if i == 0 && d > 120*time.Millisecond {
			t.Fatalf("first delay %v, want about 100ms", d)
		}
		prev = d
	}
	if prev < 320*time.Millisecond {
		t.Fatalf("delay after 20 attempts is %v, want it to have reached the cap", prev)
	}
	b.Reset()
	if d := b.Next(); d > 120*time.Millisecond {
		t.Fatalf("after Reset delay %v, want about 100ms", d)
	}
}

func TestNewRaisesMaxToInitial(t *testing.T) {
	b := New(time.Second, time.Millisecond)
	for i := 0; i < 5; i++ {
		if d := b.Next(); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("delay %v, want about 1s", d)
		}
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context returned %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("Sleep did not return when its context was cancelled")
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep returned %v after its delay", err)
	}
}

func TestSleepOrWake(t *testing.T) {
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	if woken, err := SleepOrWake(context.Background(), clock.RealClock{}, time.Hour, wake); !woken || err != nil {
		t.Fatalf("a pending wake-up: woken %v, err %v", woken, err)
	}
	if woken, err := SleepOrWake(context.Background(), clock.RealClock{}, time.Millisecond, wake); woken || err != nil {
		t.Fatalf("no wake-up: woken %v, err %v", woken, err)
	}
	if woken, err := SleepOrWake(context.Background(), clock.RealClock{}, time.Millisecond, nil); woken || err != nil {
		t.Fatalf("nil wake: woken %v, err %v", woken, err)
	}
}

// TestSleepOrWakeOnItsClock: the wait is timed by the clock it is given,
// not the real one: it ends when the fake clock passes d, and not before.
func TestSleepOrWakeOnItsClock(t *testing.T) {
	clk := testclock.NewFakeClock(time.Now())
	done := make(chan error, 1)
	go func() {
		_, err := SleepOrWake(context.Background(), clk, time.Hour, nil)
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); !clk.HasWaiters(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("SleepOrWake does not wait on the clock it is given")
		}
	}
	clk.Step(time.Hour - time.Second)
	select {
	case err := <-done:
		t.Fatalf("returned %v before the fake clock reached the delay", err)
	case <-time.After(50 * time.Millisecond):
	}
	clk.Step(time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("returned %v after its delay", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not return when the fake clock reached the delay")
	}
}

// TestSleepOrWakeHonoursContext: a cancelled context ends the wait with
// its error, not as a wake-up.
func TestSleepOrWakeHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	clk := testclock.NewFakeClock(time.Now())
	if woken, err := SleepOrWake(ctx, clk, time.Hour, make(chan struct{})); woken || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: woken %v, err %v", woken, err)
	}
	if woken, err := SleepOrWake(ctx, clk, 0, nil); woken || !errors.Is(err, context.Canceled) {
		t.Fatalf("no delay on a cancelled context: woken %v, err %v", woken, err)
	}
}
