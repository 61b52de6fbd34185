// Package migrate is `vault-init migrate`: it finishes a seal migration that
// an operator started by changing Vault's seal stanza (Shamir to transit or
// a cloud KMS, or back) and restarting Vault. It submits the stored shares
// with migrate=true and renames them in the keystore (unseal keys become
// recovery keys, or the reverse). The watch loop never does this: a seal
// change is the operator's decision, and running the command is that decision.
//
// The keystore always describes a state that opens Vault: the change is
// saved as pending (and read back) before the first share is sent, and
// settled only once Vault's seal has changed (a node unsealed on the new
// seal with no migration left, or every node on it). While it is pending
// the shares are the same bytes under either name: on an auto-unseal seal
// Vault opens itself, and while a migration to Shamir is pending the watch
// loop unseals with the recovery keys and, when they open Vault, records
// the migration as done. A second run after a crash anywhere finishes the
// migration, settles it, or drops it when the operator put the old seal
// back.
//
// A cluster migrates in Vault's HA order: each standby is restarted with
// the new seal and takes the shares (one a run); it then waits, unsealed
// and still reporting the migration, until the active node migrates. That
// step is the operator's: restart the active node with the new seal (or
// step it down); a migrated standby becomes active and migrates the
// cluster's seal. A last run migrates the old active node if it waits, or
// settles the keystore once every node reports the new seal.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/keystore"
)

// Vault is the part of *api.Sys that a migration uses.
type Vault interface {
	SealStatusWithContext(ctx context.Context) (*api.SealStatusResponse, error)
	UnsealWithOptionsWithContext(ctx context.Context, opts *api.UnsealOpts) (*api.SealStatusResponse, error)
}

// Keystore is the part of *keystore.Keys that a migration uses. Lock
// excludes other writers that take the same lock: on a file store, other
// processes too (ErrLocked while one holds it); on a Kubernetes Secret,
// only this process's goroutines, and Save's compare-and-swap against what
// this handle read last is what keeps another process's write from being
// lost (Save then fails, and Load gives the other write). Save returns
// only once the data reads back equal.
type Keystore interface {
	Lock() (unlock func(), err error)
	Load() (*keystore.InitData, error)
	Save(d *keystore.InitData) error
}

// Node is one configured Vault node.
type Node struct {
	Addr  string
	Vault Vault
}

// Options are what Run needs.
type Options struct {
	Nodes []Node
	Keys  Keystore
	// Log is named "migrate" by Run; nil logs nothing.
	Log *zap.Logger
	// Now is the clock of the pending change's StartedAt (time.Now if nil).
	Now func() time.Time
	// LockWait bounds the wait for the keystore's lock, which `vault-init
	// run` holds only while it saves (keystore.DefaultLockWait if 0).
	LockWait time.Duration
}

// Outcome is what a run did.
type Outcome int

// Outcomes of Run.
const (
	// Nothing: every node is on the keystore's seal; nothing changed.
	Nothing Outcome = iota
	// Migrated: Vault took the shares with migrate=true and reports the
	// new seal; the keystore says so.
	Migrated
	// Finished: Vault had migrated (an interrupted run, or a cluster's
	// active node that migrated it) and every node that answers is on the
	// new seal; the keystore now says so.
	Finished
	// Abandoned: Vault is on the keystore's seal again (the operator put the
	// old stanza back); the pending migration was dropped.
	Abandoned
	// WaitingForLeader: the standbys of a cluster that wait took the
	// shares and wait for the active node to migrate, which is the
	// operator's step; the keystore keeps the migration pending.
	WaitingForLeader
)

// Result says what Run did, for the operator.
type Result struct {
	Outcome           Outcome
	Node, From, To    string
	Shares, Threshold int
	// Waiting are the nodes that took the shares and wait for the active
	// node (WaitingForLeader).
	Waiting []string
}

// String is the one line printed for the operator.
func (r Result) String() string {
	what := "are now its unseal keys"
	switch {
	case r.From != Shamir && r.To != Shamir:
		what = "stay its recovery keys"
	case r.To != Shamir:
		what = "are now its recovery keys"
	}
	switch r.Outcome {
	case Migrated:
		return fmt.Sprintf("migrated %s from seal %s to %s: the keystore's %d shares (threshold %d) %s", r.Node, r.From, r.To, r.Shares, r.Threshold, what)
	case Finished:
		return fmt.Sprintf("finished the migration (an interrupted run's, or the cluster's): %s and every other node that answers are on seal %s, and the keystore's shares %s", r.Node, r.To, what)
	case WaitingForLeader:
		who := "every node that waits for the migration took the shares already"
		if r.Node != "" {
			who = r.Node + " took the shares"
		}
		return fmt.Sprintf("%s for seal %s; a standby finishes its migration only when the active node migrates (nodes waiting: %s). "+
			"Next, run `vault-init migrate` again for any other standby that waits; then restart the active node with the new seal "+
			"(or step it down) so that a migrated standby takes over and migrates the cluster, and run `vault-init migrate` again to finish",
			who, r.To, strings.Join(r.Waiting, ", "))
	case Abandoned:
		return fmt.Sprintf("dropped the pending migration to %s: %s and every other node that answers are on seal %s, the keystore's", r.To, r.Node, r.From)
	}
	return fmt.Sprintf("nothing to migrate: every node is on the keystore's seal (%s). To change the seal, change Vault's seal stanza and restart Vault first", r.From)
}

// Run reads every node's seal-status and, under the keystore's lock,
// migrates the first node that waits for a seal migration, or settles a
// migration that a crash interrupted. It returns an error, and changes
// nothing, when nothing fits: no node waits and the nodes' seal is not the
// keystore's (ErrNothingWaits), no node answers (ErrUnreachable), or the
// keystore's shares do not fit what the node asks for.
func Run(ctx context.Context, o Options) (Result, error) {
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("migrate")
	now := o.Now
	if now == nil {
		now = time.Now
	}
	unlock, err := keystore.LockWithin(ctx, o.Keys.Lock, o.LockWait)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	data, err := o.Keys.Load()
	if errors.Is(err, keystore.ErrNotFound) {
		return Result{}, errors.New("no keystore: vault-init has not initialized this Vault, so it has no shares to migrate")
	}
	if err != nil {
		return Result{}, fmt.Errorf("read keystore: %w", err)
	}
	reports := make([]Report, len(o.Nodes))
	for i, n := range o.Nodes {
		st, err := n.Vault.SealStatusWithContext(ctx)
		reports[i] = Report{Addr: n.Addr, Status: st, Err: err}
		if err != nil {
			log.Warn("vault does not answer", zap.String("node", n.Addr), zap.Error(err))
		}
	}
	pl, err := decide(data, reports)
	if err != nil {
		return Result{}, err
	}
	res := Result{From: pl.from, To: pl.to}
	if pl.action != nothing {
		res.Node = o.Nodes[pl.node].Addr
	}
	switch pl.action {
	case nothing:
		log.Info("nothing to migrate", zap.String("seal", pl.from))
		return res, nil
	case settle:
		log.Info("the interrupted migration is Vault's: settling the keystore", zap.String("node", res.Node), zap.String("to", pl.to))
		if err := o.Keys.Save(data.Completed()); err != nil {
			return Result{}, fmt.Errorf("save the migrated keys: %w", err)
		}
		res.Outcome = Finished
		return res, nil
	case abandon:
		log.Info("the node is on the keystore's seal again: dropping the pending migration", zap.String("node", res.Node), zap.String("seal", pl.from), zap.String("pending_to", pl.to))
		if err := o.Keys.Save(data.Abandoned()); err != nil {
			return Result{}, fmt.Errorf("drop the pending migration: %w", err)
		}
		res.Outcome = Abandoned
		return res, nil
	case waitLeader:
		res.Node = ""
		for _, i := range pl.waiting {
			res.Waiting = append(res.Waiting, o.Nodes[i].Addr)
		}
		log.Info("the standbys that wait took the shares; the active node must migrate next, which is the operator's step",
			zap.Strings("waiting", res.Waiting), zap.String("to", pl.to))
		res.Outcome = WaitingForLeader
		return res, nil
	}
	res.Shares, res.Threshold = len(pl.keys), pl.threshold
	for _, r := range reports[pl.node+1:] {
		if r.Status != nil && r.Status.Initialized && r.Status.Sealed && r.Status.Migration {
			log.Warn("another node waits for a seal migration too: run `vault-init migrate` again once this one is done", zap.String("node", r.Addr))
		}
	}
	waits, err := execute(ctx, o.Nodes[pl.node], o.Keys, data, pl, now, log)
	if err != nil {
		return Result{}, err
	}
	res.Outcome = Migrated
	if waits {
		res.Outcome = WaitingForLeader
		for _, i := range append(pl.waiting, pl.node) {
			res.Waiting = append(res.Waiting, o.Nodes[i].Addr)
		}
	}
	return res, nil
}
