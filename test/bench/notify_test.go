package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/notify"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// arrivals is a webhook that records, for each event it is sent, how long
// after the event it arrived.
type arrivals struct {
	mu  sync.Mutex
	lag map[string][]time.Duration // by event kind
}

func (a *arrivals) handler(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var p notify.Payload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range p.Events {
		if at, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
			a.lag[e.Event] = append(a.lag[e.Event], now.Sub(at))
		}
	}
}

func (a *arrivals) of(kind string) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Duration(nil), a.lag[kind]...)
}

// notifier starts a Notifier to urls until the benchmark ends.
func notifier(b *testing.B, urls []string, window time.Duration) *notify.Notifier {
	n, err := notify.New(urls, notify.Options{Version: "bench", BatchWindow: window})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return n
}

// resealRounds seals srv n times through its root token, and returns for
// each round how long the watcher took from the Sealed event to the
// Unsealed one (the unseal's own work, free of the check interval's phase).
func resealRounds(b *testing.B, srv *vaulttest.Server, w *watchtest.Watcher, n int) []time.Duration {
	d, err := keystore.New(w.DataDir).Load()
	if err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for i := 0; i < n; i++ {
		seen := len(w.Events.Events())
		if err := srv.Client(d.RootToken).Sys().SealWithContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		allUnsealed(b, []*vaulttest.Server{srv}, 30*time.Second)
		after := func(k events.Kind) func(events.Event) bool {
			idx := 0
			return func(e events.Event) bool { idx++; return idx > seen && e.Kind == k }
		}
		sealed := w.Wait("sealed", 10*time.Second, after(events.Sealed))
		unsealed := w.Wait("unsealed", 10*time.Second, after(events.Unsealed))
		took = append(took, unsealed.Time.Sub(sealed.Time))
		time.Sleep(time.Duration(200+i*37%400) * time.Millisecond) // a random phase of the check interval
	}
	return took
}

// BenchmarkNotify: the delivery of notifications, with vault-init in this
// process and a real Vault sealed 20 times. Figures: the lag from an event
// to its POST arriving at a local webhook, with the default batch window
// (1 s, so that a burst is one message) and with none; and what receivers
// that never answer (one hangs, one refuses connections) cost the unseal,
// as the time from the Sealed event to the Unsealed one, against no
// notifications at all.
func BenchmarkNotify(b *testing.B) {
	const rounds = 20
	srv := vaulttest.Start(b, vaulttest.Options{})

	batched, immediate := &arrivals{lag: map[string][]time.Duration{}}, &arrivals{lag: map[string][]time.Duration{}}
	hb, hi := httptest.NewServer(http.HandlerFunc(batched.handler)), httptest.NewServer(http.HandlerFunc(immediate.handler))
	defer hb.Close()
	defer hi.Close()
	sink := events.Multi(notifier(b, []string{hb.URL}, 0), notifier(b, []string{hi.URL}, -1))
	w := watchtest.Start(b, watchtest.Options{Nodes: []string{srv.Addr()}, Interval: time.Second, Quiet: true, Sink: sink})
	w.Wait("ready", 60*time.Second, events.Is(events.Ready, ""))
	live := resealRounds(b, srv, w, rounds*b.N)
	time.Sleep(2 * time.Second) // the last batch window
	w.Stop()
	for _, c := range []struct {
		name string
		a    *arrivals
	}{{"batch window 1s (default)", batched}, {"no batch window", immediate}} {
		lag := c.a.of("unsealed")
		if len(lag) < rounds {
			b.Fatalf("%s: %d unsealed notifications arrived, want %d", c.name, len(lag), rounds)
		}
		p50, p95, max := quantiles(lag)
		recordValue(fmt.Sprintf("notification lag, event to POST at a local webhook, %s (n=%d)", c.name, len(lag)),
			fmt.Sprintf("p50 %v, p95 %v, max %v", p50.Round(100*time.Microsecond), p95.Round(100*time.Microsecond), max.Round(100*time.Microsecond)))
	}

	// The same rounds with no notifier, then with two dead receivers.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer func() { close(release); hang.Close() }()
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close()
	var took [2][]time.Duration
	for i, s := range []events.Sink{nil, notifier(b, []string{hang.URL, refused.URL}, 0)} {
		w := watchtest.Start(b, watchtest.Options{Nodes: []string{srv.Addr()}, DataDir: w.DataDir, Interval: time.Second, Quiet: true, Sink: s})
		w.Wait("ready", 60*time.Second, events.Is(events.Ready, ""))
		took[i] = resealRounds(b, srv, w, rounds*b.N)
		w.Stop()
	}
	none, _, _ := quantiles(took[0])
	dead, _, _ := quantiles(took[1])
	withLive, _, _ := quantiles(live)
	record(fmt.Sprintf("unseal, Sealed event to Unsealed event, no notifications (p50 of %d)", len(took[0])), none)
	record(fmt.Sprintf("unseal, Sealed event to Unsealed event, two live webhooks (p50 of %d)", len(live)), withLive)
	record(fmt.Sprintf("unseal, Sealed event to Unsealed event, a hanging and a refusing webhook (p50 of %d)", len(took[1])), dead)
	recordRatio("unseal with dead webhooks / without notifications", float64(dead)/float64(none))
}
