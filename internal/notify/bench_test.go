package notify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
)

// Figures, not pass/fail. Run with:
//
//	go test -run '^$' -bench . -benchmem ./internal/notify

// BenchmarkEventToPOST measures the latency from Event() to the POST's
// body being read by a local receiver, one event at a time: with no batch
// window, and with the default window (1s), which is what an operator gets.
func BenchmarkEventToPOST(b *testing.B) {
	for _, bc := range []struct {
		name   string
		window time.Duration
	}{{"window=none", -1}, {"window=default", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			got := make(chan struct{}, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				got <- struct{}{}
			}))
			defer srv.Close()
			n, err := New([]string{srv.URL}, Options{Version: "bench", BatchWindow: bc.window})
			if err != nil {
				b.Fatal(err)
			}
			defer start(b, n)()

			lat := make([]time.Duration, 0, b.N)
			e := events.Event{Kind: events.Unsealed, Node: "http://vault-0:8200", Time: time.Now()}
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				n.Event(e)
				<-got
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns/event-to-post")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns/event-to-post")
		})
	}
}

// BenchmarkEventCost measures what Event() costs the caller (the watch
// loop): with no URL, a live receiver, a receiver that hangs (its queue
// full, so every event drops the oldest), and one that refuses connections.
func BenchmarkEventCost(b *testing.B) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer live.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	for _, bc := range []struct {
		name string
		urls []string
	}{
		{"none", nil},
		{"live", []string{live.URL}},
		{"hanging", []string{hang.URL}},
		{"refused", []string{gone.URL}},
		{"live+hanging", []string{live.URL, hang.URL}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n, err := New(bc.urls, Options{Version: "bench", Timeout: time.Hour, Grace: time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			defer start(b, n)()
			e := events.Event{Kind: events.Unsealed, Node: "http://vault-0:8200", Time: time.Now()}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				n.Event(e)
			}
			b.StopTimer()
			b.ReportMetric(float64(n.stats().Dropped)/float64(b.N), "dropped/op")
		})
	}
}
