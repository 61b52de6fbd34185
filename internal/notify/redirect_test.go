package notify

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
)

// TestRedirectIsNotFollowed: a receiver that redirects gets one POST and
// the batch fails, naming the redirect. The host it redirects to is never
// contacted: following would send it the webhook URL (its token) as the
// Referer, and a 302 would turn into a GET without the body that counts
// as delivered.
func TestRedirectIsNotFollowed(t *testing.T) {
	var other atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.Add(1) }))
	defer target.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		var hits atomic.Int64
		from := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Redirect(w, r, target.URL+"/landing", code)
		}))
		n, _ := New([]string{from.URL + "/services/T0/B0/SECRETTOKEN"}, quick())
		out := outcomes(n, 0)
		stop := start(t, n)
		n.Event(ev(events.Sealed, "n"))
		err := waitOutcome(t, out)
		stop()
		from.Close()
		if err == nil || !strings.Contains(err.Error(), "redirect") || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("%d: outcome %v, want a failure naming the redirect (and not the URL)", code, err)
		}
		if hits.Load() != 1 || n.stats().Failed != 1 || n.stats().Delivered != 0 {
			t.Fatalf("%d: %d attempts, stats %+v; want 1 attempt, failed", code, hits.Load(), n.stats())
		}
	}
	if other.Load() != 0 {
		t.Fatalf("the redirect's target was contacted %d times", other.Load())
	}
}

// TestRetryAfterIsCapped: a 429's Retry-After is honoured up to
// BackoffMax, never longer: a receiver asking for an hour (or a day)
// does not stall its queue for that long.
func TestRetryAfterIsCapped(t *testing.T) {
	for _, tc := range []struct {
		retryAfter string
		want       time.Duration
	}{{"3600", 2 * time.Second}, {"1", time.Second}} {
		r := newReceiver(t, func(n int64) int {
			if n == 1 {
				return http.StatusTooManyRequests
			}
			return http.StatusOK
		})
		r.header = http.Header{"Retry-After": {tc.retryAfter}}
		var mu sync.Mutex
		var waits []time.Duration
		opts := quick()
		opts.BackoffInitial, opts.BackoffMax = 10*time.Millisecond, 2*time.Second
		opts.After = func(d time.Duration) <-chan time.Time {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			c := make(chan time.Time, 1)
			c <- time.Now() // the fake clock: every wait ends at once
			return c
		}
		n, _ := New([]string{r.URL}, opts)
		out := outcomes(n, 0)
		stop := start(t, n)
		n.Event(ev(events.Sealed, "n"))
		if err := waitOutcome(t, out); err != nil {
			t.Fatalf("Retry-After %s: not delivered: %v", tc.retryAfter, err)
		}
		stop()
		mu.Lock()
		got := append([]time.Duration(nil), waits...)
		mu.Unlock()
		if len(got) == 0 || got[0] != tc.want {
			t.Fatalf("Retry-After %s: waits %v, want the first %v", tc.retryAfter, got, tc.want)
		}
	}
}
