package setup_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/setup"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch/keyring"
)

// initialized starts a real Vault, initializes and unseals it, and saves
// its keys in a fresh data dir, as the watch loop leaves it for setup.
func initialized(t *testing.T) (*vaulttest.Server, *keystore.File, *keystore.InitData) {
	t.Helper()
	srv, d := vaulttest.Initialized(t, vaulttest.Options{}, 5, 3)
	local := keystore.New(t.TempDir())
	if err := local.Save(d); err != nil {
		t.Fatal(err)
	}
	return srv, local, d
}

// newSetup is a Setup over local's keys, whose events go to rec.
func newSetup(local *keystore.File, o setup.Options, rec *events.Recorder) (*setup.Setup, *bytes.Buffer) {
	o.KVMount = "aurora"
	o.Events = &events.Emitter{Sink: rec}
	out := &bytes.Buffer{}
	ring := keyring.New(local.Keys, local, zap.NewNop(), o.Events)
	return setup.New(o, ring, local, zap.NewNop(), out), out
}

// steps returns the Step of each event of kind, in order.
func steps(rec *events.Recorder, kind events.Kind) []string {
	var out []string
	for _, e := range rec.Events() {
		if e.Kind == kind {
			out = append(out, e.Step)
		}
	}
	return out
}

// TestStepsInOrderAndIdempotent: every step runs in its order, through
// the admin token, and each leaves its thing in place; a second setup (a
// restarted vault-init) finds everything in place and writes none of it
// again: the only writes are the generated root token's own.
func TestStepsInOrderAndIdempotent(t *testing.T) {
	srv, local, d := initialized(t)
	px := testkit.NewProxy(t, srv.Addr())
	node := setup.Node{Addr: px.Addr(), Client: clientAt(t, px.Addr()), Log: zap.NewNop()}
	o := setup.Options{AuditFile: filepath.Join(t.TempDir(), "audit.log"),
		App: &apptoken.Options{Policy: "aurora-app", Mount: "aurora", Period: time.Hour}, RevokeRoot: true}

	rec := &events.Recorder{}
	s, _ := newSetup(local, o, rec)
	ready := 0
	if err := s.Run(context.Background(), node, func() { ready++ }); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(steps(rec, events.StepDone), ","), "kv-mount,audit,app-token,revoke-root"; got != want {
		t.Fatalf("steps done %q, want %q", got, want)
	}
	if ready != 1 || !s.Done() {
		t.Fatalf("ready called %d times, Done %v; want once, true", ready, s.Done())
	}
	// The things are in place, and the root token is gone.
	c := srv.Client(d.RootToken)
	if _, err := c.Auth().Token().LookupSelf(); err == nil {
		t.Fatal("the root token still works after revoke-root")
	}
	after, err := local.Load()
	if err != nil || after.RootToken != "" || !after.RootTokenRevoked || len(after.PendingRevoke) != 0 {
		t.Fatalf("keystore after revoke-root: %v %v; want no root token, revoked, nothing pending", after, err)
	}
	app, err := local.LoadAppToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client(app).Logical().Write("aurora/data/users/x", map[string]any{"data": map[string]any{"v": "1"}}); err != nil {
		t.Fatalf("the app token cannot write to the mount: %v", err)
	}

	// A second run, as a restarted vault-init: nothing to ensure again.
	writes := func() int { return px.Count("PUT", "") + px.Count("POST", "") + px.Count("DELETE", "") }
	ownWrites := func() int {
		n := 0
		for _, p := range []string{"/v1/sys/generate-root/attempt", "/v1/sys/generate-root/update", "/v1/auth/token/revoke-self", "/v1/auth/token/renew-self"} {
			n += px.Count("PUT", p) + px.Count("POST", p) + px.Count("DELETE", p)
		}
		return n
	}
	w0, own0 := writes(), ownWrites()
	rec2 := &events.Recorder{}
	s2, _ := newSetup(local, o, rec2)
	if err := s2.Run(context.Background(), node, func() {}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(steps(rec2, events.StepDone), ","), "kv-mount,audit,app-token,revoke-root"; got != want {
		t.Fatalf("second run: steps done %q, want %q", got, want)
	}
	if own := ownWrites() - own0; own == 0 {
		t.Fatal("the second run generated no root token: the test would not see a step's writes through it")
	}
	if extra := (writes() - w0) - (ownWrites() - own0); extra != 0 {
		t.Fatalf("the second run wrote %d times besides the generated root token's own requests: a step is not idempotent", extra)
	}
}

// TestFailedStepStopsTheList: a step that fails ends Run with a
// *StepError naming it (the watch loop reports it as StepFailed), the steps
// after it do not run, and setup is not done (the loop retries it).
func TestFailedStepStopsTheList(t *testing.T) {
	srv, local, _ := initialized(t)
	node := setup.Node{Addr: srv.Addr(), Client: srv.Client(""), Log: zap.NewNop()}
	rec := &events.Recorder{}
	s, out := newSetup(local, setup.Options{
		AuditFile: "/proc/no-such-dir/audit.log", // Vault cannot write there
		App:       &apptoken.Options{Policy: "aurora-app", Mount: "aurora", Period: time.Hour},
	}, rec)
	err := s.Run(context.Background(), node, func() { t.Error("ready called after a failed step") })
	var se *setup.StepError
	if !errors.As(err, &se) || se.Step != "audit" || !strings.Contains(err.Error(), "audit") {
		t.Fatalf("Run: %v; want a *StepError of the audit step", err)
	}
	if got := strings.Join(steps(rec, events.StepDone), ","); got != "kv-mount" {
		t.Fatalf("steps done %q, want only kv-mount", got)
	}
	if n := rec.Count(events.Is(events.StepFailed, "")); n != 0 {
		t.Fatalf("setup sent %d StepFailed events itself; the loop reports the returned error once", n)
	}
	if s.Done() || out.Len() != 0 {
		t.Fatalf("Done %v, banner %q after a failed step; want not done, no banner", s.Done(), out.String())
	}
	if _, err := local.LoadAppToken(); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("an app token was issued after the failed step: %v", err)
	}
}

// clientAt is an api client for addr, without retries.
func clientAt(t *testing.T, addr string) *api.Client {
	cfg := api.DefaultConfig()
	cfg.Address, cfg.MaxRetries = addr, 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("")
	return c
}
