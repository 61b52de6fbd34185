// Package watch is vault-init's control loop. It looks at Vault, decides its
// state in one place (vaultstate), and does the one thing that state needs:
// initialize, unseal, configure, or wait. It runs until its context ends.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/banner"
	"github.com/aurora/vault-init/internal/faultinject"
	"github.com/aurora/vault-init/internal/initializer"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/kvmount"
	"github.com/aurora/vault-init/internal/unseal"
	"github.com/aurora/vault-init/internal/vaultstate"
)

// Timing of the loop. A failed check is retried from FirstRetry, doubling up
// to the check interval, so that Vault coming back is noticed within one
// interval; an action that failed (a rejected key, a wrong mount) is retried
// from FirstRetry up to MaxErrorRetry, so that it does not hammer Vault.
const (
	FirstRetry    = 250 * time.Millisecond
	MaxErrorRetry = 5 * time.Second
	HealthTimeout = 10 * time.Second
	InitTimeout   = 2 * time.Minute
	// LockWarnAfter is how long another process may hold the data dir's
	// lock before vault-init reports it.
	LockWarnAfter = 30 * time.Second
	// RepeatError is how often an unchanged error is logged again, so that
	// `docker logs` shows that vault-init is still stuck on it.
	RepeatError = time.Minute
)

// Options is what the loop needs to know. The caller fills it from config.
type Options struct {
	VaultAddr       string
	KVMount         string
	FallbackToken   string // VAULT_TOKEN: used only when the keystore has no root token
	SecretShares    int
	SecretThreshold int
	CheckInterval   time.Duration
}

// Watcher keeps one Vault initialized, unsealed and configured.
type Watcher struct {
	opts          Options
	client        *api.Client
	keys          *keystore.File
	log           *zap.Logger
	out           io.Writer // the banner goes here
	init          *initializer.Initializer
	unsealer      *unseal.Unsealer
	reach         *backoff.Backoff // while Vault does not answer
	errs          *backoff.Backoff // after an action failed
	state         vaultstate.State
	observed      bool // state holds a real observation
	answered      bool // Vault has answered at least once in this run
	data          *keystore.InitData
	configured    bool        // the mount was checked since Vault last became active
	bannerPending bool        // this run initialized Vault and owes the operator the banner
	ready         bool        // "ready" was logged for the current active period
	warnedMode    fs.FileMode // the keystore mode last warned about
	lastErr       string
	lastErrAt     time.Time
}

// New returns a Watcher. out receives the banner; errOut the emergency
// block if the keys cannot be saved before a shutdown.
func New(opts Options, client *api.Client, keys *keystore.File, log *zap.Logger, out, errOut io.Writer) *Watcher {
	maxReach := min(opts.CheckInterval, MaxErrorRetry)
	return &Watcher{
		opts: opts, client: client, keys: keys, log: log, out: out,
		init: &initializer.Initializer{
			Vault: client.Sys(), Keys: keys, Log: log.Named("init"), VaultAddr: opts.VaultAddr,
			Shares: opts.SecretShares, Threshold: opts.SecretThreshold, Emergency: errOut,
			InitTimeout: InitTimeout, SaveBackoff: backoff.New(FirstRetry, MaxErrorRetry), LockWarnAfter: LockWarnAfter,
		},
		unsealer: &unseal.Unsealer{Vault: client.Sys(), Log: log.Named("unseal")},
		reach:    backoff.New(FirstRetry, maxReach),
		errs:     backoff.New(FirstRetry, MaxErrorRetry),
	}
}

// Run loops until ctx ends, and then returns nil. It returns early only with
// initializer.ErrKeysUnsaved, when it was stopped while holding keys it
// could not save (they have then been printed to errOut).
func (w *Watcher) Run(ctx context.Context) error {
	w.log.Info("watching vault", zap.String("addr", w.opts.VaultAddr), zap.Duration("check_interval", w.opts.CheckInterval),
		zap.String("keystore", w.keys.Path()))
	for {
		hctx, cancel := context.WithTimeout(ctx, HealthTimeout)
		obs := vaultstate.Observe(hctx, w.client.Sys())
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		w.transition(obs)
		delay, err := w.step(ctx, obs)
		if errors.Is(err, initializer.ErrKeysUnsaved) {
			return err
		}
		if backoff.Sleep(ctx, delay) != nil {
			w.log.Info("stopping")
			return nil
		}
	}
}

// transition logs a change of state, once, and resets what a change resets.
func (w *Watcher) transition(obs vaultstate.Observation) {
	if w.observed && obs.State == w.state {
		return
	}
	fields := []zap.Field{zap.Stringer("state", obs.State)}
	if w.observed {
		fields = append(fields, zap.Stringer("previous", w.state))
	}
	if obs.Health != nil {
		fields = append(fields, zap.String("version", obs.Health.Version))
	}
	w.log.Info("vault state changed", fields...)
	answered := obs.State != vaultstate.Unreachable && obs.State != vaultstate.Unknown
	if answered && !w.answered {
		w.answered = true
		if obs.State != vaultstate.Uninitialized {
			w.log.Info("vault was already initialized; no banner this time. Show the root token with: docker exec vault-init vault-init root-token")
		}
	}
	if answered {
		w.reach.Reset()
	}
	if obs.State != vaultstate.Active {
		w.configured, w.ready = false, false
	}
	w.observed, w.state = true, obs.State
}

// step acts on one observation and says how long to wait before the next.
func (w *Watcher) step(ctx context.Context, obs vaultstate.Observation) (time.Duration, error) {
	switch obs.State {
	case vaultstate.Unreachable:
		w.log.Debug("vault does not answer yet", zap.Error(obs.Err))
		return w.reach.Next(), nil
	case vaultstate.Unknown:
		// A check that failed is retried as fast as an unreachable Vault:
		// Vault coming back must be noticed within one check interval.
		w.report(fmt.Errorf("check vault health: %w", obs.Err))
		return w.reach.Next(), nil
	case vaultstate.Uninitialized:
		return w.initialize(ctx)
	case vaultstate.Sealed:
		return w.unseal(ctx), nil
	case vaultstate.Active:
		return w.configure(ctx), nil
	case vaultstate.Removed:
		return w.fail(errors.New("this vault node was removed from its raft cluster; it will not serve requests")), nil
	}
	// Standby nodes are unsealed and serve through the active node.
	return w.opts.CheckInterval, nil
}

func (w *Watcher) initialize(ctx context.Context) (time.Duration, error) {
	data, err := w.init.Initialize(ctx)
	switch {
	case errors.Is(err, initializer.ErrAlreadyInitialized):
		w.log.Warn("vault was initialized by someone else in the meantime")
		return 0, nil
	case errors.Is(err, initializer.ErrKeysUnsaved):
		return 0, err
	case err != nil:
		return w.fail(err), nil
	}
	w.data, w.bannerPending = data, true
	w.log.Info("vault initialized")
	return 0, nil
}

func (w *Watcher) unseal(ctx context.Context) time.Duration {
	data, err := w.loadKeys()
	if err != nil {
		return w.fail(err)
	}
	n, err := w.unsealer.Unseal(ctx, data.Keys)
	if err != nil {
		return w.fail(fmt.Errorf("unseal: %w", err))
	}
	w.log.Info("vault unsealed", zap.Int("keys_submitted", n), zap.Int("threshold", data.SecretThreshold))
	return 0
}

// loadKeys reads the keystore, falling back to the copy in memory when the
// file has gone away while vault-init runs.
func (w *Watcher) loadKeys() (*keystore.InitData, error) {
	data, err := w.keys.Load()
	switch {
	case err == nil:
		w.data = data
		w.checkMode()
		return data, nil
	case errors.Is(err, keystore.ErrNotFound) && w.data != nil:
		w.log.Error("keystore file has disappeared; unsealing with the copy in memory. Restore it from a backup or run `vault-init status` to see what is wrong",
			zap.String("path", w.keys.Path()))
		return w.data, nil
	case errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("vault is initialized, but %s does not exist: it was initialized by someone else. "+
			"Unseal it by hand, or put that Vault's init.json in the data dir; vault-init changes nothing until then", w.keys.Path())
	}
	return nil, err
}

func (w *Watcher) configure(ctx context.Context) time.Duration {
	if w.configured {
		return w.opts.CheckInterval
	}
	token := w.opts.FallbackToken
	if data, err := w.keys.Load(); err == nil && data.RootToken != "" {
		token = data.RootToken
	} else if w.data != nil && w.data.RootToken != "" {
		token = w.data.RootToken
	}
	if token == "" {
		return w.fail(fmt.Errorf("cannot configure mount %s/: the keystore holds no root token and VAULT_TOKEN is not set", w.opts.KVMount))
	}
	c, err := w.client.Clone()
	if err != nil {
		return w.fail(fmt.Errorf("clone vault client: %w", err))
	}
	c.SetToken(token)
	faultinject.Point("before-mount")
	action, err := kvmount.Ensure(ctx, c.Sys(), w.opts.KVMount)
	if err != nil {
		return w.fail(err)
	}
	w.log.Info("kv mount in place", zap.String("mount", w.opts.KVMount), zap.String("action", string(action)))
	w.configured = true
	if w.bannerPending {
		if err := banner.Write(w.out, token); err != nil {
			w.log.Error("could not print the banner; show the root token with `vault-init root-token`", zap.Error(err))
		}
		w.bannerPending = false
	}
	if !w.ready {
		w.log.Info("vault is ready", zap.String("mount", w.opts.KVMount))
		w.ready = true
	}
	w.errs.Reset()
	w.lastErr = ""
	return w.opts.CheckInterval
}

// checkMode warns, once per mode seen, when others may read the keystore.
// It does not refuse to unseal: the exposure has already happened, and
// leaving Vault sealed would add an outage to it.
func (w *Watcher) checkMode() {
	mode, err := w.keys.Mode()
	if err != nil || mode&0o077 == 0 || mode == w.warnedMode {
		return
	}
	w.warnedMode = mode
	w.log.Warn("the keystore is readable by others; whoever reads it holds root on this Vault. Fix: chmod 600 it, and consider rotating the keys (vault operator rekey)",
		zap.String("path", w.keys.Path()), zap.String("mode", fmt.Sprintf("%04o", mode)))
}

// fail reports err and returns the next error backoff.
func (w *Watcher) fail(err error) time.Duration {
	w.report(err)
	return w.errs.Next()
}

// report logs err: once while it stays the same, and again every RepeatError.
func (w *Watcher) report(err error) {
	msg := err.Error()
	if msg != w.lastErr || time.Since(w.lastErrAt) >= RepeatError {
		w.log.Error("vault-init cannot proceed; retrying", zap.Error(err))
		w.lastErr, w.lastErrAt = msg, time.Now()
	} else {
		w.log.Debug("still failing", zap.Error(err))
	}
}
