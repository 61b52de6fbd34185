// Package watchtest runs vault-init's watch loop in the test's own process,
// against real Vaults (internal/vaulttest) or fakes: one harness for the
// watch tests, the cluster tests and the benchmarks. Every Watcher it
// starts is stopped when the test ends, and its logs, stdout and stderr are
// then scanned for every secret of its keystore.
package watchtest

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/utils/clock"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaultclient"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch"
)

// Interval is the default check interval: short, so that tests run fast.
const Interval = 250 * time.Millisecond

// Options says what to watch and how. Only Nodes is required.
type Options struct {
	Nodes   []string // API addresses (a vaulttest.Server's Addr, a fake's URL)
	DataDir string   // the data dir; a new temp dir when ""
	TLS     config.TLS
	// Interval is the check interval (Interval when 0); Shares and
	// Threshold are 5 and 3 when 0 (for unseal and recovery keys).
	Interval          time.Duration
	Shares, Threshold int
	// Setup: VAULT_TOKEN, the audit device's file_path, the app token,
	// root revocation.
	Token      string
	Audit      string
	App        *apptoken.Options
	RevokeRoot bool
	// Clock is the loop's clock (a fake one, say); the real one when nil.
	Clock clock.Clock
	// JoinDataWait is watch.Options.JoinDataWait.
	JoinDataWait time.Duration
	// Out replaces the captured stdout (the banner): a writer that blocks.
	Out io.Writer
	// Quiet logs at info level instead of debug (benchmarks).
	Quiet bool
	// Sink, when set, also receives every event (a notifier, say).
	Sink events.Sink
}

// Watcher is a running watch.Watcher and what it wrote.
type Watcher struct {
	*watch.Watcher
	t       testing.TB
	DataDir string
	Logs    *vaulttest.Buffer // JSON logs (debug level unless Quiet)
	Out     *vaulttest.Buffer // stdout: the banner
	ErrOut  *vaulttest.Buffer // stderr: the emergency block
	Events  *events.Recorder  // every event
	Started time.Time         // when Run was started
	cancel  context.CancelFunc
	done    chan error
	scan    Scan
}

// Start runs a Watcher over o.Nodes until Stop or the end of the test,
// which also runs the secret scan.
func Start(t testing.TB, o Options) *Watcher {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	o.Interval = or(o.Interval, Interval)
	o.Shares, o.Threshold = or(o.Shares, 5), or(o.Threshold, 3)
	h := &Watcher{t: t, DataDir: o.DataDir, Logs: &vaulttest.Buffer{}, Out: &vaulttest.Buffer{}, ErrOut: &vaulttest.Buffer{},
		Events: &events.Recorder{}, done: make(chan error, 1)}
	var clients []*api.Client
	for _, addr := range o.Nodes {
		c, err := vaultclient.New(config.Config{VaultAddr: addr, TLS: o.TLS}, addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	level := zapcore.DebugLevel
	if o.Quiet {
		level = zapcore.InfoLevel
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(h.Logs), level))
	var out io.Writer = h.Out
	if o.Out != nil {
		out = o.Out
	}
	h.Watcher = watch.New(watch.Options{
		Nodes: o.Nodes, KVMount: "aurora", FallbackToken: o.Token, CheckInterval: o.Interval,
		SecretShares: o.Shares, SecretThreshold: o.Threshold, RecoveryShares: o.Shares, RecoveryThreshold: o.Threshold,
		AuditFile: o.Audit, App: o.App, RevokeRoot: o.RevokeRoot, Clock: o.Clock, JoinDataWait: o.JoinDataWait, Events: events.Multi(h.Events, o.Sink),
	}, clients, keystore.New(o.DataDir), log, out, h.ErrOut)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.Started = time.Now()
	go func() { h.done <- h.Run(ctx) }()
	t.Cleanup(func() {
		h.Stop()
		h.AssertNoSecrets()
	})
	return h
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Stop ends the Watcher and returns what Run returned. It may be called
// more than once.
func (h *Watcher) Stop() error {
	h.t.Helper()
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(5 * time.Second):
		h.t.Fatal("watcher did not stop within 5s of its context ending")
	}
	return nil
}

// Running reports whether Run has not returned.
func (h *Watcher) Running() bool {
	select {
	case err := <-h.done:
		h.done <- err
		return false
	default:
		return true
	}
}

// Keys loads the keystore, or fails the test.
func (h *Watcher) Keys() *keystore.InitData {
	h.t.Helper()
	d, err := keystore.New(h.DataDir).Load()
	if err != nil {
		h.t.Fatalf("load keystore: %v", err)
	}
	return d
}

// Knows names the secrets a test made itself (an init of its own, the
// keys of a keystore it then garbles), for the scan at the end.
func (h *Watcher) Knows(d ...*keystore.InitData) {
	h.scan.Known, h.scan.KnownGiven = append(h.scan.Known, d...), true
}

// Wait waits for an event that matches, failing the test after timeout.
func (h *Watcher) Wait(what string, timeout time.Duration, match func(events.Event) bool) events.Event {
	h.t.Helper()
	e, ok := h.Events.Wait(timeout, match)
	if !ok {
		h.t.Fatalf("no %s event within %v; logs:\n%s", what, timeout, h.Logs.String())
	}
	return e
}

// WaitCount waits until n events match, failing the test after timeout.
func (h *Watcher) WaitCount(what string, n int, timeout time.Duration, match func(events.Event) bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for h.Events.Count(match) < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d %s events, want %d within %v", h.Events.Count(match), what, n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// AssertNoSecrets runs the secret scan on what the Watcher wrote.
func (h *Watcher) AssertNoSecrets() {
	h.t.Helper()
	s := h.scan
	s.DataDir, s.Logs, s.ErrOut, s.Out = h.DataDir, h.Logs.String(), h.ErrOut.String(), h.Out.String()
	for _, e := range h.Events.Events() { // what notifications would send
		s.Events += fmt.Sprintf("%+v\n", e)
	}
	s.GotKeys = h.Events.Count(func(e events.Event) bool { return e.Kind == events.Initialized || e.Kind == events.SaveFailed }) > 0
	AssertNoSecrets(h.t, s)
}
