package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/audit"
	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/faultinject"
	"github.com/aurora/vault-init/internal/initializer"
	"github.com/aurora/vault-init/internal/kvmount"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/unseal"
	"github.com/aurora/vault-init/internal/vaultclient"
	"github.com/aurora/vault-init/internal/vaultstate"
)

// node watches one Vault node. Everything here belongs to one goroutine;
// what nodes share lives in the Watcher, behind its mutex.
type node struct {
	w        *Watcher
	addr     string
	client   *api.Client
	log      *zap.Logger
	unsealer *unseal.Unsealer
	reach    *backoff.Backoff // while the node does not answer
	errs     *backoff.Backoff // after an action failed
	lost     <-chan struct{}  // Vault closed a connection (vaultclient.ConnLost)
	wake     <-chan struct{}  // ends the next wait early (another node's init ended)

	state       vaultstate.State
	observed    bool // state holds a real observation
	configured  bool // the mount was checked since the node last became active
	ready       bool // "ready" was logged for the current active period
	woken       bool // the last wait was ended by a lost connection
	joining     int  // unseal rounds in a row that ended in a pending Raft join
	waitingJoin int  // checks in a row that found the node uninitialized, waiting for its join
	disagreed   int  // steps in a row that found Vault not in the state its health check said
	// saidInitialized: Vault answered "already initialized" (sys/init, or
	// sys/seal-status under the lock). No sys/init is sent to it again.
	saidInitialized bool
	// peerInitialized is the peer last found initialized while this node
	// was not, with no keys at hand (a shared keystore): "" when none.
	peerInitialized string
	unsealUnseen    bool      // our last unseal has not been seen by a check yet
	unsealedAt      time.Time // when the node was last seen unsealed, by a check or by our unseal
	lastErr         string
	lastErrAt       time.Time
}

func newNode(w *Watcher, addr string, client *api.Client, log *zap.Logger) *node {
	return &node{
		w: w, addr: addr, client: client, log: log,
		unsealer: &unseal.Unsealer{Vault: client.Sys(), Log: log.Named("unseal")},
		reach:    backoff.New(FirstRetry, min(w.opts.CheckInterval, MaxErrorRetry)),
		errs:     backoff.New(FirstRetry, MaxErrorRetry),
		lost:     vaultclient.ConnLost(client),
	}
}

// run loops until ctx ends, and then returns nil; or returns
// initializer.ErrKeysUnsaved.
func (n *node) run(ctx context.Context) error {
	for {
		select {
		case <-n.lost: // a connection lost before this check is one it sees
		default:
		}
		hctx, cancel := context.WithTimeout(ctx, HealthTimeout)
		obs := vaultstate.Observe(hctx, n.client.Sys())
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		n.w.setState(n.addr, obs.State)
		n.w.opts.Metrics.Checked(n.addr, obs.State.Answered(), obs.State != vaultstate.Uninitialized,
			obs.State == vaultstate.Sealed || obs.State == vaultstate.Uninitialized, obs.State == vaultstate.Active)
		n.transition(obs)
		delay, err := n.step(ctx, obs)
		if errors.Is(err, initializer.ErrKeysUnsaved) {
			return err
		}
		if n.w.opts.Once && n.done() {
			return nil
		}
		if n.sleep(ctx, delay) != nil {
			return nil
		}
	}
}

// done is the --once test: unsealed with the mount in place, or paused.
func (n *node) done() bool {
	if n.state == vaultstate.Sealed || n.state == vaultstate.Uninitialized {
		return n.w.paused()
	}
	return n.state.Unsealed() && n.w.isMountDone()
}

// transition logs a change of state, once, and resets what a change resets.
func (n *node) transition(obs vaultstate.Observation) {
	if obs.State.Unsealed() {
		n.unsealedAt = time.Now()
	}
	if obs.State.Answered() && obs.State != vaultstate.Sealed {
		n.unsealUnseen = false // a check saw what came of the last unseal
	}
	if n.observed && obs.State == n.state {
		return
	}
	if obs.State.Answered() {
		n.disagreed = 0 // a failed check in between is no agreement
	}
	fields := []zap.Field{zap.Stringer("state", obs.State)}
	if n.observed {
		fields = append(fields, zap.Stringer("previous", n.state))
	}
	if obs.Health != nil {
		fields = append(fields, zap.String("version", obs.Health.Version))
	}
	n.log.Info("vault state changed", fields...)
	if obs.State.Answered() {
		n.reach.Reset()
		if obs.State != vaultstate.Uninitialized {
			n.w.sayAlreadyInitialized()
		}
	}
	if obs.State.Answered() && obs.State != vaultstate.Active {
		// Only an answer ends an active period: a failed check in between
		// says nothing of Vault's setup, and re-running setup after each
		// one would cost a generate-root a round with root revocation.
		n.configured, n.ready = false, false
	}
	if obs.State != vaultstate.Uninitialized {
		n.waitingJoin = 0
	}
	if obs.State.Unsealed() {
		n.joining = 0
	}
	if obs.State == vaultstate.Unreachable {
		n.w.forgetInitNode(n)
	}
	n.observed, n.state = true, obs.State
}

// step acts on one observation and says how long to wait before the next.
func (n *node) step(ctx context.Context, obs vaultstate.Observation) (time.Duration, error) {
	switch obs.State {
	case vaultstate.Unreachable:
		n.log.Debug("vault does not answer yet", zap.Error(obs.Err))
		return n.retryCheck(), nil
	case vaultstate.Unknown:
		// A check that failed is retried as fast as an unreachable Vault:
		// Vault coming back must be noticed within one check interval.
		n.w.opts.Metrics.Error("health")
		n.report(fmt.Errorf("check vault health: %w", obs.Err))
		return n.retryCheck(), nil
	case vaultstate.Uninitialized, vaultstate.Sealed:
		if n.w.paused() {
			return n.w.opts.CheckInterval, nil
		}
		if obs.State == vaultstate.Uninitialized {
			return n.initialize(ctx)
		}
		return n.unseal(ctx), nil
	case vaultstate.Active:
		return n.configure(ctx), nil
	case vaultstate.Removed:
		return n.fail(errors.New("this vault node was removed from its raft cluster; it will not serve requests")), nil
	}
	// Standby nodes are unsealed and serve through the active node.
	return n.w.opts.CheckInterval, nil
}

func (n *node) configure(ctx context.Context) time.Duration {
	if n.configured {
		return n.maintain(ctx)
	}
	if n.w.opts.RevokeRoot && n.w.isMountDone() && n.w.opts.App != nil {
		// Set up once in this run already, and Vault keeps its setup across
		// restarts: a working app token spares generating a root token.
		if token, err := n.w.keys.LoadAppToken(); err == nil && n.renewAppToken(ctx, token) == nil {
			return n.setUp("")
		}
	}
	token, release, err := n.adminToken(ctx)
	var busy *roottoken.BusyError
	if errors.As(err, &busy) {
		n.report(err)
		return n.w.opts.CheckInterval
	}
	if err != nil {
		return n.fail(err)
	}
	defer release()
	c, err := n.withToken(token)
	if err != nil {
		return n.fail(err)
	}
	faultinject.Point("before-mount")
	ensure := kvmount.Ensure
	if n.w.takeFreshMount() {
		ensure = kvmount.EnsureFresh
	}
	action, err := ensure(ctx, c.Sys(), n.w.opts.KVMount)
	if err != nil {
		return n.fail(err)
	}
	n.log.Info("kv mount in place", zap.String("mount", n.w.opts.KVMount), zap.String("action", string(action)))
	if n.w.opts.AuditFile != "" {
		enabled, err := audit.Ensure(ctx, c.Sys(), n.w.opts.AuditFile)
		if err != nil {
			return n.fail(err)
		}
		n.log.Info("audit device in place", zap.String("file_path", n.w.opts.AuditFile), zap.Bool("enabled_now", enabled))
	}
	if n.w.opts.App != nil {
		if err := n.ensureAppToken(ctx, c); err != nil {
			return n.fail(err)
		}
	}
	return n.setUp(token)
}

// setUp records that the node is configured, prints what the operator is
// owed, and logs "ready" once per active period.
func (n *node) setUp(token string) time.Duration {
	n.configured = true
	n.w.setMountDone()
	n.w.printBanner(token)
	if !n.ready {
		n.log.Info("vault is ready", zap.String("mount", n.w.opts.KVMount))
		n.ready = true
	}
	n.errs.Reset()
	n.lastErr = ""
	return n.w.opts.CheckInterval
}

// fail reports err, counts it by the state it happened in, and returns
// the next error backoff.
func (n *node) fail(err error) time.Duration {
	if errors.Is(err, context.Canceled) {
		// Only vault-init's own stop cancels (request timeouts are
		// deadlines): a stop is not a failure. The wait ends at once on a
		// stop; a cancellation that is not one still waits.
		n.log.Debug("stopping in the middle of a step", zap.Error(err))
		return n.errs.Next()
	}
	kinds := map[vaultstate.State]string{vaultstate.Uninitialized: "init", vaultstate.Sealed: "unseal", vaultstate.Active: "mount"}
	kind, ok := kinds[n.state]
	if !ok {
		kind = "other"
	}
	n.w.opts.Metrics.Error(kind)
	n.report(err)
	return n.errs.Next()
}

// report logs err: once while it stays the same, and again every RepeatError.
func (n *node) report(err error) {
	msg := err.Error()
	if msg != n.lastErr || time.Since(n.lastErrAt) >= RepeatError {
		n.log.Error("vault-init cannot proceed; retrying", zap.Error(err))
		n.lastErr, n.lastErrAt = msg, time.Now()
	} else {
		n.log.Debug("still failing", zap.Error(err))
	}
}
