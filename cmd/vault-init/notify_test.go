package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/notify"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// receiver is a webhook that keeps every body it is sent.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	got    chan struct{} // receives after each body
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) { return newSlowReceiver(t, 0) }

// newSlowReceiver answers each POST after delay, and keeps only the bodies
// whose sender waited for the answer: a notification is delivered when
// the receiver acknowledged it.
func newSlowReceiver(t *testing.T, delay time.Duration) (*receiver, *httptest.Server) {
	r := &receiver{got: make(chan struct{}, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return // the sender went away (exited) before the answer
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		r.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

// payloads decodes every body strictly: a field that is not documented
// fails the test.
func (r *receiver) payloads(t *testing.T) []notify.Payload {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Payload
	for _, b := range r.bodies {
		var p notify.Payload
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("a notification is not the documented payload: %v: %s", err, b)
		}
		out = append(out, p)
	}
	return out
}

func (r *receiver) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.bodies, []byte("\n")))
}

// waitKinds waits until the payloads from the from'th on hold every kind
// in want (a kind, or kind/step); it returns how many payloads there were.
func (r *receiver) waitKinds(t *testing.T, from int, timeout time.Duration, want ...string) int {
	t.Helper()
	deadline := time.After(timeout)
	for {
		seen := map[string]bool{}
		all := r.payloads(t)
		for _, p := range all[min(from, len(all)):] {
			for _, e := range p.Events {
				seen[e.Event+"/"+e.Step] = true
				seen[e.Event] = true
			}
		}
		missing := slices.DeleteFunc(slices.Clone(want), func(k string) bool { return seen[k] })
		if len(missing) == 0 {
			return len(all)
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("no notification of %v within %v; got: %s", missing, timeout, r.all())
		}
	}
}

// TestNotificationsCarryNoSecret: a first start with every setup step
// (audit, app token, root revocation), then a Vault restart, all notified
// to a webhook through VAULT_INIT_NOTIFY. Every payload is the documented
// one, and none holds an unseal key (hex or base64), the root token of the
// init (caught by a proxy between vault-init and Vault), a generated root
// token's place, or the app token; the logs never show the webhook URL.
func TestNotificationsCarryNoSecret(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := testkit.NewProxy(t, srv.Addr())
	rec, hook := newReceiver(t)
	const hookSecret = "T0SECRET/B0SECRET/webhooktoken"
	dataDir := t.TempDir()
	env := []string{"VAULT_ADDR=" + px.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir,
		"VAULT_INIT_NOTIFY=" + hook.URL + "/services/" + hookSecret,
		"VAULT_INIT_AUDIT=file:" + filepath.Join(t.TempDir(), "audit.log"),
		"VAULT_INIT_APP_TOKEN=true", "VAULT_INIT_REVOKE_ROOT=true"}
	p := testkit.Start(t, binary, testkit.Options{Env: env, ScanDir: dataDir})
	p.WaitEvent(events.Ready, 90*time.Second)
	n := rec.waitKinds(t, 0, 30*time.Second, "vault_answered", "initialized", "unsealed", "ready",
		"setup_step_done/kv-mount", "setup_step_done/audit", "setup_step_done/app-token", "setup_step_done/revoke-root")

	// A restart: gone, back, sealed, unsealed again, and ready (the app
	// token still works, so no root token is generated for it).
	srv.Kill()
	n = rec.waitKinds(t, n, 30*time.Second, "vault_went_away")
	srv.Restart()
	rec.waitKinds(t, n, 60*time.Second, "vault_answered", "sealed", "unsealed", "ready")
	p.Stop(syscall.SIGTERM, "after the restart")

	// What to look for: the init reply's keys and root token, the stored
	// keys, the app token.
	inits := px.InitReplies()
	if len(inits) != 1 {
		t.Fatalf("the proxy saw %d init replies, want 1", len(inits))
	}
	stored, err := keystore.New(dataDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	app, err := keystore.New(dataDir).LoadAppToken()
	if err != nil || app == "" {
		t.Fatalf("no app token saved: %v", err)
	}
	secrets := []*keystore.InitData{inits[0], stored, {RootToken: app}}
	bodies := rec.all()
	for _, d := range secrets {
		vaulttest.AssertNoSecrets(t, "the notifications", bodies, d)
	}
	for _, pl := range rec.payloads(t) {
		if pl.Version == "" || len(pl.Events) == 0 || pl.Text == "" {
			t.Errorf("a payload without version, events or text: %+v", pl)
		}
		for _, e := range pl.Events {
			if e.Event == string(events.Checked) {
				t.Errorf("a health check was notified: %+v", e)
			}
			if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || e.Node == "" && e.Event != "paused" && e.Event != "resumed" {
				t.Errorf("event without a time or node: %+v", e)
			}
		}
	}
	for _, out := range []string{p.Stderr.String(), p.Stdout.String()} {
		if strings.Contains(out, "SECRET") || strings.Contains(out, "webhooktoken") {
			t.Errorf("vault-init's output shows the webhook URL:\n%s", out)
		}
	}
}

// TestDeadReceiverCostsNothing: with one receiver that never answers and
// one that refuses connections, vault-init still initializes, unseals and
// sets Vault up, and a stop still exits 0 within the stop promise (the
// queued notifications get a bounded grace).
func TestDeadReceiverCostsNothing(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // its port now refuses connections
	dataDir := t.TempDir()
	p := testkit.Start(t, binary, testkit.Options{ScanDir: dataDir, Env: []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir,
		"VAULT_INIT_NOTIFY=" + hang.URL + "/hook," + refused.URL + "/hook"}})
	p.WaitEvent(events.Ready, 90*time.Second)
	srv.Kill()
	srv.Restart()
	deadline := time.Now().Add(60 * time.Second)
	for len(p.Events(events.Unsealed)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("not unsealed again after a restart, with dead receivers; logs:\n%s", p.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Stop(syscall.SIGTERM, "with a hanging and a refusing receiver")
}

// TestOnceFlushesNotifications: with --once, vault-init exits as soon as
// Vault is set up; the events of that run (initialized, unsealed, ready)
// are still delivered (a receiver that takes 300 ms to answer acknowledged
// them) before it exits.
func TestOnceFlushesNotifications(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	rec, hook := newSlowReceiver(t, 300*time.Millisecond)
	dataDir := t.TempDir()
	p := testkit.Start(t, binary, testkit.Options{ScanDir: dataDir, Env: []string{"VAULT_ADDR=" + srv.Addr(),
		"VAULT_INIT_DATA_DIR=" + dataDir, "VAULT_INIT_ONCE=true", "VAULT_INIT_NOTIFY=" + hook.URL + "/hook"}})
	if code, _ := p.Wait(90 * time.Second); code != 0 {
		t.Fatalf("--once exited %d, want 0", code)
	}
	// Everything is in by the exit: no waiting here.
	seen := map[string]bool{}
	for _, pl := range rec.payloads(t) {
		for _, e := range pl.Events {
			seen[e.Event] = true
		}
	}
	for _, k := range []string{"initialized", "unsealed", "ready"} {
		if !seen[k] {
			t.Errorf("the %s event was not delivered before the exit; got: %s", k, rec.all())
		}
	}
}

// TestStopDuringInitStillNotifies: a stop that arrives while sys/init is
// in flight lets the init finish and the keys be saved; the Initialized
// event that follows is still delivered, because the notifications' grace
// starts when the loop has ended, not at the stop signal.
func TestStopDuringInitStillNotifies(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := testkit.NewProxy(t, srv.Addr())
	px.SetMode(testkit.Slow) // every request held testkit.SlowDelay
	rec, hook := newReceiver(t)
	dataDir := t.TempDir()
	p := testkit.Start(t, binary, testkit.Options{ScanDir: dataDir, Env: []string{"VAULT_ADDR=" + px.Addr(),
		"VAULT_INIT_DATA_DIR=" + dataDir, "VAULT_INIT_NOTIFY=" + hook.URL + "/hook"}})
	p.WaitFor("initializing vault", 60*time.Second)
	p.Signal(syscall.SIGTERM)
	if code, _ := p.Wait(60 * time.Second); code != 0 {
		t.Fatalf("exit %d after a stop during sys/init, want 0", code)
	}
	if _, err := keystore.New(dataDir).Load(); err != nil {
		t.Fatalf("the keys of the init in flight were not saved: %v", err)
	}
	if !strings.Contains(rec.all(), `"event":"initialized"`) {
		t.Fatalf("the init that finished during the stop was not notified; got: %s\nlogs:\n%s", rec.all(), p.Stderr.String())
	}
}
