package notify

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/events"
)

// target is one URL: its queue, and the loop that empties it.
type target struct {
	index  int    // 1-based position in the list, for logs
	host   string // for logs; never the URL
	opts   *Options
	log    *zap.Logger
	sender sender
	wake   chan struct{} // an event was queued
	full   chan struct{} // a whole batch is queued: no need to wait

	mu                 sync.Mutex
	queue              ring
	delivered, failed  uint64
	dropped, dropsSeen uint64 // dropsSeen: the drops already logged
	dropLogged         time.Time

	// onBatch, when set (by tests), is told each batch's outcome.
	onBatch func(n int, err error)
}

// enqueue adds e, dropping the oldest event when the queue is full. It
// never blocks but on the queue's mutex, which is only held briefly.
func (t *target) enqueue(e events.Event) {
	t.mu.Lock()
	if t.queue.push(e) {
		t.dropped++
	}
	isFull := t.queue.n >= t.opts.MaxBatch
	t.mu.Unlock()
	signal(t.wake)
	if isFull {
		signal(t.full)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// take removes and returns up to MaxBatch of the oldest queued events.
func (t *target) take() []events.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.queue.pop(t.opts.MaxBatch)
}

// run delivers until ctx ends, then flushes the queue under deliver.
func (t *target) run(ctx, deliver context.Context) {
	defer t.flush(deliver)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		}
		if t.opts.BatchWindow > 0 {
			select {
			case <-ctx.Done():
				return
			case <-t.full:
			case <-t.opts.After(t.opts.BatchWindow):
			}
		}
		for ctx.Err() == nil {
			batch := t.take()
			if batch == nil {
				break
			}
			t.deliver(deliver, batch)
		}
	}
}

// flush delivers what is left once Run's context has ended, until deliver
// ends too; what is still queued then counts as failed.
func (t *target) flush(deliver context.Context) {
	for deliver.Err() == nil {
		batch := t.take()
		if batch == nil {
			break
		}
		t.deliver(deliver, batch)
	}
	t.mu.Lock()
	lost := t.queue.n
	t.failed += uint64(lost)
	t.queue.pop(lost)
	t.mu.Unlock()
	t.logDrops(true)
	if lost > 0 {
		t.log.Warn("notifications not sent before shutdown", zap.Int("events", lost))
	}
}

// deliver sends one batch, trying again on errors that may pass, at most
// Attempts times in all.
func (t *target) deliver(ctx context.Context, batch []events.Event) {
	t.logDrops(false)
	p := newPayload(t.opts.Version, batch)
	b := backoff.New(t.opts.BackoffInitial, t.opts.BackoffMax)
	var err error
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
		err = t.sender.send(rctx, p)
		cancel()
		if err == nil {
			t.count(&t.delivered, len(batch))
			break
		}
		var se *sendError
		permanent := errors.As(err, &se) && se.permanent
		if permanent || attempt >= t.opts.Attempts || ctx.Err() != nil {
			t.count(&t.failed, len(batch))
			t.log.Warn("notification not delivered", zap.Int("events", len(batch)),
				zap.Int("attempts", attempt), zap.String("error", err.Error()))
			break
		}
		wait := b.Next()
		if se != nil && se.retryAfter > wait {
			wait = min(se.retryAfter, t.opts.BackoffMax)
		}
		if !t.sleep(ctx, wait) {
			t.count(&t.failed, len(batch))
			t.log.Warn("notification not delivered before shutdown", zap.Int("events", len(batch)),
				zap.Int("attempts", attempt), zap.String("error", err.Error()))
			break
		}
	}
	if t.onBatch != nil {
		t.onBatch(len(batch), err)
	}
}

// sleep waits d on the Options' clock; false when ctx ended first.
func (t *target) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-t.opts.After(d):
		return true
	}
}

func (t *target) count(c *uint64, n int) {
	t.mu.Lock()
	*c += uint64(n)
	t.mu.Unlock()
}

// logDrops logs the drops since the last log, at most once per
// DropLogInterval unless final.
func (t *target) logDrops(final bool) {
	now := t.opts.Now()
	t.mu.Lock()
	fresh := t.dropped - t.dropsSeen
	due := fresh > 0 && (final || t.dropLogged.IsZero() || now.Sub(t.dropLogged) >= t.opts.DropLogInterval)
	total := t.dropped
	if due {
		t.dropsSeen, t.dropLogged = t.dropped, now
	}
	t.mu.Unlock()
	if due {
		t.log.Warn("notifications dropped: queue full", zap.Uint64("dropped", fresh),
			zap.Uint64("dropped_total", total), zap.Int("queue_size", t.opts.QueueSize))
	}
}
