package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/initializer"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/unseal"
	"github.com/aurora/vault-init/internal/vaultstate"
)

// The steps for a node that is not initialized, or sealed.

func (n *node) initialize(ctx context.Context) (time.Duration, error) {
	if (n.w.cluster() || n.w.opts.Shared) && n.w.keys.Have() {
		// A Raft follower reports "not initialized" until its retry_join
		// has reached the initialized leader. It is not a second Vault.
		// With a shared keystore, keys there mean that another node's
		// vault-init initialized the cluster this node joins.
		if err := n.join.NotJoined(); err != nil {
			n.errs.Report(err)
		} else {
			n.log.Debug("node not initialized yet: waiting for it to join the cluster (raft retry_join)")
		}
		return n.w.opts.CheckInterval, nil
	}
	if may, peer := n.w.coord.MayInitialize(ctx, n.addr, n.log); !may {
		if peer != "" {
			// Initialized peers and no keys: the keystore is gone, or this
			// node cannot read it. Joining needs the keys; a second
			// cluster must never be made.
			if err := n.join.PeerWithoutKeys(peer, n.w.keys.Path()); err != nil {
				n.errs.Report(err)
			}
			return n.w.opts.CheckInterval, nil
		}
		n.log.Debug("node not initialized: another node is the one to initialize; this one joins it")
		return n.w.opts.CheckInterval, nil
	}
	if err := n.replies.Uninitialized(); err != nil {
		// Vault said "initialized" once: another sys/init, behind a
		// balancer, could reach another, empty Vault and make a second one.
		return n.fail(err), nil
	}
	// The api client caps every request at its own timeout: sys/init gets
	// a client of its own with the longer InitTimeout.
	ic, err := n.client.Clone()
	if err != nil {
		return n.fail(fmt.Errorf("clone vault client: %w", err)), nil
	}
	ic.SetClientTimeout(InitTimeout)
	n.w.coord.Start()
	data, err := n.w.init.Initialize(ctx, ic.Sys())
	n.w.coord.End()
	switch {
	case ctx.Err() != nil && err != nil && !errors.Is(err, initializer.ErrKeysUnsaved):
		return 0, nil // stopping: the wait ends at once
	case errors.Is(err, initializer.ErrAlreadyInitialized):
		// Most often a race another vault-init won: the next check says
		// "sealed". Whatever the next checks say, no sys/init follows.
		n.replies.SaidInitialized()
		n.log.Warn("vault was initialized by someone else in the meantime")
		return n.w.opts.CheckInterval, nil
	case errors.Is(err, initializer.ErrKeysUnsaved):
		return 0, err
	case errors.Is(err, keystore.ErrClaimed):
		// Another vault-init initializes its own node, which this one then
		// joins.
		if rerr := n.join.Claimed(err); rerr != nil {
			n.errs.Report(rerr)
		} else {
			n.log.Debug("another vault-init is initializing the cluster; waiting for its keys", zap.Error(err))
		}
		return n.w.opts.CheckInterval, nil
	case errors.Is(err, initializer.ErrKeystoreHoldsKeys) && n.w.opts.Shared:
		// Another node's vault-init saved its keys since the last look:
		// this node joins that cluster.
		n.log.Debug("the shared keystore holds keys now: waiting for this node to join the cluster")
		return n.w.opts.CheckInterval, nil
	case err != nil:
		return n.fail(err), nil
	}
	n.w.keys.Hold(data)
	n.w.setup.Initialized()
	n.w.notes.Initialized()
	n.log.Info("vault initialized")
	n.emit(events.Event{Kind: events.Initialized})
	if ctx.Err() != nil || len(data.Keys) == 0 {
		return 0, nil // stopping; or an auto-unseal seal, which unseals it
	}
	// Vault is initialized and sealed now: unseal it without another look.
	n.state = vaultstate.Sealed
	return n.unseal(ctx), nil
}

func (n *node) unseal(ctx context.Context) time.Duration {
	if done := n.w.coord.UnderWay(); done != nil {
		// Another node is being initialized (its keys may be being saved,
		// for as long as the disk is full): look again the moment that ends.
		n.wake = done
		return n.w.opts.CheckInterval
	}
	data, err := n.w.keys.Load()
	if err != nil {
		return n.fail(err)
	}
	set, submitted, err := n.unsealer.UnsealSets(ctx, data.UnsealKeySets())
	var noData *unseal.JoinedNoDataError
	switch {
	case errors.Is(err, unseal.ErrMigrationPending):
		n.errs.Report(errors.New("vault waits for a seal migration: its seal stanza changed (Shamir to auto-unseal, or back). " +
			"vault-init never migrates on its own: run `vault-init migrate` to submit the stored keys with migrate=true (docs/keys.md, \"Seal migration\")"))
		return n.w.opts.CheckInterval
	case errors.Is(err, unseal.ErrAutoUnseal):
		n.errs.Report(errors.New("vault has an auto-unseal seal and is sealed. It unseals itself when its process starts, if its seal (transit Vault, cloud KMS) is reachable; " +
			"sealed through the API, it stays sealed until an operator unseals it or restarts it. vault-init never submits recovery keys"))
		return n.w.opts.CheckInterval
	case errors.Is(err, unseal.ErrJoinPending):
		if err := n.join.Pending(n.w.clock.Now()); err != nil {
			return n.fail(err)
		}
		n.log.Info("threshold key accepted; waiting for the node to finish joining the raft cluster")
		return n.w.opts.CheckInterval
	case errors.As(err, &noData):
		first := !n.join.NoDataSeen()
		if err := n.join.NoData(n.w.clock.Now(), fmt.Sprintf("vault answers %d: %s", noData.Status, noData.Answer)); err != nil {
			return n.fail(err)
		}
		if first {
			n.log.Info("the node joined the raft cluster; waiting for the cluster's data from the leader", zap.Error(err))
		} else {
			n.log.Debug("still waiting for the cluster's data from the leader", zap.Error(err))
		}
		return n.w.opts.CheckInterval
	case vaultstate.NotUpYet(err):
		// Vault went away mid-unseal, or a pooled connection died with a
		// restarted Vault (an unseal is a PUT, which Go does not retry):
		// poll again soon, as for any check that failed.
		n.log.Debug("vault went away during the unseal; retrying", zap.Error(err))
		return n.retryCheck()
	case err != nil:
		return n.fail(fmt.Errorf("unseal: %w", err))
	case submitted == 0:
		// Unsealed already (by someone else, or a joining follower that
		// finished): nothing to count. An address that balances over
		// several Vaults could say "sealed" and "unsealed" in turn for ever.
		n.log.Debug("vault was unsealed already when the keys were about to go in")
		if err := n.replies.Step(n.state, "sys/seal-status says it is unsealed"); err != nil {
			return n.fail(err)
		}
		return n.w.opts.CheckInterval
	}
	n.settlePending(data, set)
	n.join.Unsealed()
	n.emit(events.Event{Kind: events.Unsealed})
	threshold := data.SecretThreshold
	if data.AutoUnseal() { // recovery keys that are the unseal keys of a migration back to Shamir
		threshold = data.RecoveryThreshold
	}
	n.log.Info("vault unsealed", zap.Int("keys_submitted", submitted), zap.Int("threshold", threshold))
	// Not unsealedAt: only a check that sees it unsealed starts the fast
	// polling again, or a Vault that something seals at once would get
	// fast polling, and an unseal, for ever.
	if n.unsealUnseen {
		// The check after our last unseal still said "sealed": something
		// seals it again at once. Unseal it again, but not in a loop.
		return n.w.opts.CheckInterval
	}
	n.unsealUnseen = true
	return 0 // the next check finds it unsealed and configures it
}

// settlePending records what an unseal proved about a change that a crash
// left pending in the keystore. A rekey's new keys that opened Vault are
// its keys now. When the stored keys opened it, nothing is proved about a
// rekey: another node may still be verifying it (sealing ends a rekey only
// on the node sealed), so it stays for `vault-init rekey`, which asks the
// active node. Recovery keys that opened a Shamir Vault finish a pending
// migration back to Shamir: they are its unseal keys now.
func (n *node) settlePending(data *keystore.InitData, set int) {
	p := data.Pending
	var what string
	switch {
	case p == nil:
		return
	case p.Kind == keystore.PendingRekey && !p.Recovery && set > 0:
		what = "an interrupted rekey: its new keys opened vault, and replace the old ones"
	case p.Kind == keystore.PendingSealMigration && p.SealType == "shamir" && data.AutoUnseal():
		what = "an interrupted seal migration to shamir: the recovery keys opened vault, and are its unseal keys now"
	default:
		return
	}
	err := n.w.keys.Update(func(d *keystore.InitData) {
		if d.Pending == nil || d.Pending.Kind != p.Kind || d.Pending.Nonce != p.Nonce || !d.Pending.StartedAt.Equal(p.StartedAt) {
			return // settled, or another change since: nothing to do
		}
		*d = *d.Completed()
	})
	if err != nil {
		n.log.Warn("could not record in the keystore what the unseal proved; the next unseal tries the same keys again", zap.Error(err))
		return
	}
	n.log.Info("settled a change left pending in the keystore", zap.String("change", what), zap.String("path", n.w.keys.Path()))
}
