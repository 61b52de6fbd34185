// Package notify sends vault-init's events to webhooks (VAULT_INIT_NOTIFY):
// each batch of events is one JSON POST per URL, a Payload, whose "text"
// field makes the same body work with Slack-compatible incoming webhooks.
//
// A Notifier is an events.Sink. Its Event never blocks: it queues the event
// for each URL and returns. One goroutine per URL delivers (see Run), so a
// dead or slow receiver delays only its own notifications, never unsealing
// and never another receiver. A queue that overflows drops its oldest
// events and counts them.
//
// URLs carry tokens (Slack's do), so a URL is never logged or put in an
// error: logs name a receiver by its position in the list and its host.
package notify

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/events"
)

// Options tunes a Notifier. Zero values take the defaults named.
type Options struct {
	// Version is vault-init's version, sent in every payload.
	Version string
	// Log receives delivery failures and drops (zap.NewNop when nil).
	Log *zap.Logger
	// BatchWindow is how long to gather a burst before the POST, once an
	// event is queued (default 1s, which also keeps a receiver within
	// Slack's one message a second). Negative: send at once.
	BatchWindow time.Duration
	// MaxBatch caps the events of one POST (default 50).
	MaxBatch int
	// QueueSize caps the events queued for one URL (default 256); past
	// it, the oldest are dropped.
	QueueSize int
	// Attempts caps the tries of one batch (default 4). Only network
	// errors, 5xx and 429 are tried again.
	Attempts int
	// Timeout caps one request (default 10s).
	Timeout time.Duration
	// BackoffInitial and BackoffMax bound the wait between tries
	// (defaults 1s and 30s); a 429's Retry-After is honoured up to
	// BackoffMax.
	BackoffInitial, BackoffMax time.Duration
	// Grace is how long Run goes on delivering what is queued after its
	// context ends (default 1s: a stop stays prompt, and a live
	// receiver takes milliseconds).
	Grace time.Duration
	// DropLogInterval is the least time between two logs of drops for one
	// URL (default 1m).
	DropLogInterval time.Duration
	// Client sends the requests (a client of its own when nil).
	Client *http.Client
	// Now and After are the clock (time.Now and time.After when nil).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.BatchWindow == 0 {
		o.BatchWindow = time.Second
	}
	setInt(&o.MaxBatch, 50)
	setInt(&o.QueueSize, 256)
	setInt(&o.Attempts, 4)
	setDur(&o.Timeout, 10*time.Second)
	setDur(&o.BackoffInitial, time.Second)
	setDur(&o.BackoffMax, 30*time.Second)
	setDur(&o.Grace, time.Second)
	setDur(&o.DropLogInterval, time.Minute)
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
}

func setInt(v *int, def int) {
	if *v <= 0 {
		*v = def
	}
}

func setDur(v *time.Duration, def time.Duration) {
	if *v <= 0 {
		*v = def
	}
}

// Notifier queues events and delivers them to its URLs. It is an
// events.Sink; Event is safe for concurrent use.
type Notifier struct {
	opts    Options
	targets []*target
}

var _ events.Sink = (*Notifier)(nil)

// New checks urls and returns a Notifier for them. Blank entries are
// skipped; with none left, the Notifier sends nothing. An error names the
// bad URL by its position (1-based) and, for an unsupported scheme, the
// scheme, but never quotes the URL. Nothing is sent before Run.
func New(urls []string, opts Options) (*Notifier, error) {
	opts.defaults()
	n := &Notifier{opts: opts}
	for i, raw := range urls {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := parseURL(i, raw)
		if err != nil {
			return nil, err
		}
		idx := i + 1
		n.targets = append(n.targets, &target{
			index:  idx,
			host:   u.Hostname(),
			opts:   &n.opts,
			log:    opts.Log.Named("notify").With(zap.Int("notify_url", idx), zap.String("host", u.Hostname())),
			sender: senders[strings.ToLower(u.Scheme)](u, &n.opts),
			queue:  newRing(opts.QueueSize),
			wake:   make(chan struct{}, 1),
			full:   make(chan struct{}, 1),
		})
	}
	return n, nil
}

// Event queues e for every URL and returns at once: it never waits on the
// network. Checked events, and failures that repeat the node's last one
// (Repeated), are not sent.
func (n *Notifier) Event(e events.Event) {
	if !sent(e) {
		return
	}
	if e.Time.IsZero() {
		e.Time = n.opts.Now()
	}
	for _, t := range n.targets {
		t.enqueue(e)
	}
}

// tally counts what happened to the events, over all URLs (an event sent
// to two URLs counts twice).
type tally struct {
	// Delivered: taken by a receiver. Failed: given up after the attempts,
	// or refused (4xx), or still queued when Run's grace ended. Dropped:
	// pushed out of a full queue.
	Delivered, Failed, Dropped uint64
}

// stats returns the counts so far.
func (n *Notifier) stats() tally {
	var s tally
	for _, t := range n.targets {
		t.mu.Lock()
		s.Delivered += t.delivered
		s.Failed += t.failed
		s.Dropped += t.dropped
		t.mu.Unlock()
	}
	return s
}

// Run delivers until ctx ends, then goes on delivering what is queued for
// at most Options.Grace, and returns. Call it once, in a goroutine of its
// own. Events queued after Run returns are never sent.
func (n *Notifier) Run(ctx context.Context) {
	// deliver outlives ctx by the grace period: a POST under way, its
	// retries and the flush of the queue all end by then.
	deliver, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		select {
		case <-n.opts.After(n.opts.Grace):
		case <-deliver.Done():
		}
		cancel()
	})
	defer stop()
	var wg sync.WaitGroup
	for _, t := range n.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.run(ctx, deliver)
		}()
	}
	wg.Wait()
}
