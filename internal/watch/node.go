package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/initializer"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/setup"
	"github.com/aurora/vault-init/internal/unseal"
	"github.com/aurora/vault-init/internal/vaultclient"
	"github.com/aurora/vault-init/internal/vaultstate"
	"github.com/aurora/vault-init/internal/watch/disagree"
	"github.com/aurora/vault-init/internal/watch/failure"
	"github.com/aurora/vault-init/internal/watch/join"
)

// node watches one Vault node. Everything here belongs to one goroutine;
// what nodes share lives in the Watcher (state.go).
type node struct {
	w        *Watcher
	addr     string
	client   *api.Client
	log      *zap.Logger
	unsealer *unseal.Unsealer
	reach    *backoff.Backoff  // while the node does not answer
	errs     *failure.Reporter // what fails, and the backoff after an action failed
	join     join.Patience     // the waits for the node to join its cluster
	replies  disagree.Replies  // replies that contradict each other
	lost     <-chan struct{}   // Vault closed a connection (vaultclient.ConnLost)
	wake     <-chan struct{}   // ends the next wait early (another node's init ended)

	state        vaultstate.State
	observed     bool      // state holds a real observation
	seenUnsealed bool      // seen unsealed since last seen sealed (for Sealed)
	configured   bool      // set up since the node last became active
	ready        bool      // "ready" was logged for the current active period
	woken        bool      // the last wait was ended by a lost connection
	unsealUnseen bool      // our last unseal has not been seen by a check yet
	unsealedAt   time.Time // when the node was last seen unsealed, by a check or by our unseal
}

func newNode(w *Watcher, addr string, client *api.Client, log *zap.Logger) *node {
	n := &node{
		w: w, addr: addr, client: client, log: log,
		unsealer: &unseal.Unsealer{Vault: client.Sys(), Log: log.Named("unseal")},
		reach:    backoff.New(FirstRetry, min(w.opts.CheckInterval, MaxErrorRetry)),
		lost:     vaultclient.ConnLost(client),
		join:     join.Patience{Rounds: JoinPatience, DataWait: cmp.Or(w.opts.JoinDataWait, JoinDataWait)},
	}
	n.errs = &failure.Reporter{Log: log, Clock: w.clock, Emit: n.emit, Repeat: RepeatError, Backoff: backoff.New(FirstRetry, MaxErrorRetry)}
	return n
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
		n.w.states.Store(n.addr, obs.State)
		n.emit(events.Event{Kind: events.Checked, State: obs.State.String()})
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

// emit sends an event about this node.
func (n *node) emit(e events.Event) {
	e.Node = n.addr
	n.w.events.Emit(e)
}

// done is the --once test: unsealed with the mount in place, or paused.
func (n *node) done() bool {
	if n.state == vaultstate.Sealed || n.state == vaultstate.Uninitialized {
		return n.w.paused()
	}
	return n.state.Unsealed() && n.w.setup.Done()
}

// transition logs a change of state, once, and resets what a change resets.
func (n *node) transition(obs vaultstate.Observation) {
	if obs.State.Unsealed() {
		n.unsealedAt, n.seenUnsealed = n.w.clock.Now(), true
	}
	if obs.State.Answered() && obs.State != vaultstate.Sealed {
		n.unsealUnseen = false // a check saw what came of the last unseal
	}
	if n.observed && obs.State == n.state {
		return
	}
	switch answered := obs.State.Answered(); {
	case answered && (!n.observed || !n.state.Answered()):
		n.emit(events.Event{Kind: events.Answered, State: obs.State.String()})
	case !answered && n.observed && n.state.Answered():
		n.emit(events.Event{Kind: events.WentAway, State: obs.State.String()})
	}
	if obs.State == vaultstate.Sealed && n.seenUnsealed {
		n.seenUnsealed = false
		n.emit(events.Event{Kind: events.Sealed, State: obs.State.String()})
	}
	if obs.State.Answered() {
		n.replies.Answered() // a failed check in between is no agreement
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
	n.join.Observed(obs.State)
	if obs.State == vaultstate.Unreachable && !n.w.keys.Holding() && n.w.opts.InitAddr == "" {
		n.w.coord.Forget(n.addr) // it went away before it could be initialized
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
		err := fmt.Errorf("check vault health: %w", obs.Err)
		n.errs.Failed("health", err)
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

// configure runs setup on the active node, once per active period, and
// then its upkeep (the app token's renewal).
func (n *node) configure(ctx context.Context) time.Duration {
	sn := setup.Node{Addr: n.addr, Client: n.client, Log: n.log}
	if n.configured {
		err := n.w.setup.Maintain(ctx, sn)
		switch {
		case errors.Is(err, setup.ErrSetupAgain):
			n.configured = false
			return 0
		case err != nil:
			return n.fail(err)
		}
		return n.w.opts.CheckInterval
	}
	err := n.w.setup.Run(ctx, sn, n.setUp)
	var busy *roottoken.BusyError
	switch {
	case errors.As(err, &busy):
		n.errs.Report(err)
	case err != nil:
		return n.fail(err)
	}
	return n.w.opts.CheckInterval
}

// setUp records that the node is configured and logs "ready" once per
// active period.
func (n *node) setUp() {
	n.configured = true
	if !n.ready {
		n.log.Info("vault is ready", zap.String("mount", n.w.opts.KVMount))
		n.emit(events.Event{Kind: events.Ready})
		n.ready = true
	}
	n.errs.Reset()
}

// fail reports err as a failure of the step of the node's state, and
// returns the next error backoff.
func (n *node) fail(err error) time.Duration {
	kinds := map[vaultstate.State]string{vaultstate.Uninitialized: "init", vaultstate.Sealed: "unseal", vaultstate.Active: "mount"}
	kind, ok := kinds[n.state]
	if !ok {
		kind = "other"
	}
	return n.errs.Fail(kind, err)
}
