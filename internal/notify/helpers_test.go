package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
)

// deadline bounds every wait of these tests: it only turns a hang into a
// failure, it never decides a pass.
const deadline = 10 * time.Second

// receiver is a webhook receiver that decodes each POST strictly into a
// Payload and answers with status(attempt) (200 when nil).
type receiver struct {
	*httptest.Server
	t        *testing.T
	posts    chan *Payload
	raw      chan []byte
	attempts atomic.Int64
	status   func(attempt int64) int
	header   http.Header // added to every answer (set before the first request)
}

func newReceiver(t *testing.T, status func(int64) int) *receiver {
	t.Helper()
	r := &receiver{t: t, posts: make(chan *Payload, 1000), raw: make(chan []byte, 1000), status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	n := r.attempts.Add(1)
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("got %s with Content-Type %q, want a JSON POST", req.Method, req.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(req.Body)
	p, err := decodeStrict(body)
	if err != nil {
		r.t.Errorf("payload does not decode strictly: %v\n%s", err, body)
	}
	code := http.StatusOK
	if r.status != nil {
		code = r.status(n)
	}
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	if code == http.StatusOK {
		r.raw <- body
		r.posts <- p
	}
}

// next returns the next delivered payload, failing the test after deadline.
func (r *receiver) next() *Payload {
	r.t.Helper()
	select {
	case p := <-r.posts:
		return p
	case <-time.After(deadline):
		r.t.Fatal("no POST arrived")
		return nil
	}
}

// decodeStrict decodes a body into the documented Payload, refusing any
// field the Payload does not document and any trailing data.
func decodeStrict(body []byte) (*Payload, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var p Payload
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, io.ErrUnexpectedEOF
	}
	return &p, nil
}

// hanging is a receiver that never answers until the test ends.
func hanging(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	s.Start()
	t.Cleanup(func() { close(release); s.Close() })
	return s
}

// refused returns a URL on which nothing listens.
func refused(t *testing.T) string {
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

// quick are Options for tests: no batch window, short backoff.
func quick() Options {
	return Options{Version: "v-test", BatchWindow: -1, BackoffInitial: time.Millisecond, BackoffMax: 2 * time.Millisecond}
}

// start runs n until the test ends and returns a stop that ends Run and
// waits for it.
func start(t testing.TB, n *Notifier) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(deadline):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// outcomes reports every batch's outcome of target i on the returned
// channel.
func outcomes(n *Notifier, i int) chan error {
	c := make(chan error, 1000)
	n.targets[i].onBatch = func(_ int, err error) { c <- err }
	return c
}

func waitOutcome(t *testing.T, c chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(deadline):
		t.Fatal("no batch outcome")
		return nil
	}
}

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 123456789, time.UTC)

func ev(k events.Kind, node string) events.Event {
	return events.Event{Kind: k, Node: node, Time: t0}
}
