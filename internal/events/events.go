// Package events is vault-init's seam for "something happened". The watch
// loop and the setup steps report each thing that happens to a Vault node
// as an Event to a Sink; the Prometheus metrics, the notifications and the
// tests are Sinks. Nothing here acts on Vault.
//
// An Event never carries a secret: no unseal key, recovery key or token is
// ever put in one, and Error holds only the message of an error that
// vault-init also logs (and the log scans check for secrets).
package events

import (
	"sync"
	"time"
)

// Kind names what happened. The names are stable: notifications send them,
// and tests and operators match on them.
type Kind string

// The kinds of event.
const (
	// Checked ends every health check (State says what it found). It is
	// for metrics; notifiers ignore it.
	Checked Kind = "checked"
	// Answered: the node answers, the first time or after it did not.
	Answered Kind = "vault_answered"
	// WentAway: the node stopped answering.
	WentAway Kind = "vault_went_away"
	// Initialized: vault-init initialized the node (sys/init), and the
	// keys are saved.
	Initialized Kind = "initialized"
	// Unsealed: vault-init unsealed the node.
	Unsealed Kind = "unsealed"
	// Sealed: the node is seen sealed after it was seen unsealed.
	Sealed Kind = "sealed"
	// Paused: the node is sealed on purpose (`vault-init pause`), and
	// vault-init leaves it so. Resumed: the pause ended.
	Paused  Kind = "paused"
	Resumed Kind = "resumed"
	// StepDone and StepFailed: a setup step (Step names it: kv-mount,
	// audit, app-token, revoke-root) ensured its thing, or failed to
	// (Repeated: the same failure as that node's last of the step, within
	// a minute; a stop is no failure and sends none).
	StepDone   Kind = "setup_step_done"
	StepFailed Kind = "setup_step_failed"
	// Ready: the node is unsealed and set up (logged once per active
	// period).
	Ready Kind = "ready"
	// Failed: an action failed and is retried. Step says which: health,
	// init, unseal, mount (setup), or other. Repeated says that it is the
	// same failure as the node's last one.
	Failed Kind = "failed"
	// SaveFailed: the keys could not be saved; they are held in memory
	// and the save is retried.
	SaveFailed Kind = "keystore_save_failed"
)

// Event is one thing that happened. Only Kind and Time are always set.
type Event struct {
	Kind Kind
	Time time.Time
	// Node is the API address of the node it happened to ("" when it is
	// not about one node, like a keystore save).
	Node string
	// State is the node's state (vaultstate.State's name) when it is part
	// of the event: Checked, Answered, Sealed.
	State string
	// Step names the setup step or the failed action.
	Step string
	// Error is the failure's message, for Failed, StepFailed and
	// SaveFailed.
	Error string
	// Repeated: a Failed or StepFailed event that repeats the node's
	// last failure (notifications skip it).
	Repeated bool
}

// Sink receives events. Event must return quickly and never block on the
// network or a disk: a Sink with slow work queues it for a goroutine of its
// own, so that no Sink ever slows an unseal. It is called from several
// goroutines at once (one per node).
type Sink interface {
	Event(Event)
}

// Func adapts a function to a Sink.
type Func func(Event)

// Event calls f.
func (f Func) Event(e Event) { f(e) }

// Multi sends every event to each of sinks, in order; nil sinks are
// skipped. A typed nil pointer in a Sink is not nil: pass only sinks that
// exist (a nil *monitor.Metrics records nothing, others would panic).
func Multi(sinks ...Sink) Sink {
	var kept multi
	for _, s := range sinks {
		if s != nil {
			kept = append(kept, s)
		}
	}
	return kept
}

type multi []Sink

func (m multi) Event(e Event) {
	for _, s := range m {
		s.Event(e)
	}
}

// Emitter stamps and sends events: the Time is set when it is zero. A nil
// *Emitter, or one with a nil Sink, sends nothing.
type Emitter struct {
	Sink Sink
	Now  func() time.Time // time.Now when nil
}

// Emit sends e.
func (em *Emitter) Emit(e Event) {
	if em == nil || em.Sink == nil {
		return
	}
	if e.Time.IsZero() {
		now := time.Now
		if em.Now != nil {
			now = em.Now
		}
		e.Time = now()
	}
	em.Sink.Event(e)
}

// Recorder is a Sink that keeps every event, for tests. It is safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []Event
	added  chan struct{} // closed and replaced on each event
}

// Event records e.
func (r *Recorder) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if r.added != nil {
		close(r.added)
		r.added = nil
	}
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Count returns how many recorded events match.
func (r *Recorder) Count(match func(Event) bool) int {
	n := 0
	for _, e := range r.Events() {
		if match(e) {
			n++
		}
	}
	return n
}

// Wait returns the first recorded event that matches, waiting up to
// timeout for one; ok is false when none came.
func (r *Recorder) Wait(timeout time.Duration, match func(Event) bool) (e Event, ok bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		r.mu.Lock()
		for _, ev := range r.events[seen:] {
			if match(ev) {
				r.mu.Unlock()
				return ev, true
			}
		}
		seen = len(r.events)
		if r.added == nil {
			r.added = make(chan struct{})
		}
		added := r.added
		r.mu.Unlock()
		select {
		case <-added:
		case <-deadline.C:
			return Event{}, false
		}
	}
}

// Is returns a matcher for events of kind k, on node when node is not "".
func Is(k Kind, node string) func(Event) bool {
	return func(e Event) bool { return e.Kind == k && (node == "" || e.Node == node) }
}
