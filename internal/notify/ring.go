package notify

import "github.com/aurora/vault-init/internal/events"

// ring is a bounded FIFO of events that pushes out its oldest when full,
// so that queueing an event costs the same however full it is. The zero
// ring has no room; make one with newRing. It is not safe for concurrent
// use (the target's mutex guards it).
type ring struct {
	buf  []events.Event
	head int // index of the oldest
	n    int // how many are held
}

func newRing(size int) ring { return ring{buf: make([]events.Event, size)} }

// push adds e; dropped says that the oldest event was pushed out for it.
func (r *ring) push(e events.Event) (dropped bool) {
	if r.n == len(r.buf) {
		r.buf[r.head] = e
		r.head = (r.head + 1) % len(r.buf)
		return true
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
	return false
}

// pop removes and returns up to max of the oldest events (nil when empty).
func (r *ring) pop(max int) []events.Event {
	k := min(r.n, max)
	if k == 0 {
		return nil
	}
	out := make([]events.Event, k)
	for i := range out {
		j := (r.head + i) % len(r.buf)
		out[i] = r.buf[j]
		r.buf[j] = events.Event{}
	}
	r.head = (r.head + k) % len(r.buf)
	r.n -= k
	return out
}
