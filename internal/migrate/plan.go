package migrate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
)

// Shamir is the seal type of a Vault unsealed by key shares.
const Shamir = "shamir"

// ErrUnreachable means that no node that could be the one to migrate
// answered. A Vault whose new seal is unreachable exits at startup; the
// recovery keys cannot help it.
var ErrUnreachable = errors.New("vault does not answer")

// ErrNothingWaits means that no node waits for a seal migration and the
// nodes' seal is not the keystore's either.
var ErrNothingWaits = errors.New("no node waits for a seal migration; change Vault's seal stanza and restart Vault first")

// ErrDisagree means that a migration is pending in the keystore and the
// initialized nodes do not all report the same seal, so it can be neither
// settled nor dropped.
var ErrDisagree = errors.New("the nodes disagree")

// Report is what one node answered to seal-status (Status), or the error.
type Report struct {
	Addr   string
	Status *api.SealStatusResponse
	Err    error
}

// action is what a plan does.
type action int

const (
	nothing    action = iota // every node is on the keystore's seal
	migrate                  // submit the stored shares with migrate=true
	settle                   // the pending migration is every node's: save Completed
	abandon                  // the nodes are on the keystore's seal: save Abandoned
	waitLeader               // standbys took the shares; the active node must migrate
)

// plan is the decision of one run, made from the keystore and the nodes'
// replies before anything changes.
type plan struct {
	action   action
	node     int    // index in the reports
	from, to string // seal types
	keys     []string
	// threshold is the stored shares' threshold.
	threshold int
	// pending, when not nil, is saved (and read back) before the first
	// share is sent: the migration renames the shares or changes the seal.
	pending *keystore.Pending
	// waiting are the nodes (indexes in the reports) that took the shares
	// and wait for the active node to migrate.
	waiting []int
}

// sealOf is the keystore's seal type, "shamir" for an old keystore that
// names none.
func sealOf(d *keystore.InitData) string {
	if d.AutoUnseal() {
		return d.SealType
	}
	return Shamir
}

// decide makes the plan from the keystore and the nodes' replies (in the
// configured order). It changes nothing; an error means "refuse".
//
// A node that reports a migration while unsealed is a standby of a cluster
// that took the shares already and waits for the active node to migrate
// (Vault's HA order: standbys first, the active node last): it is skipped,
// and a sealed node that waits is looked for after it. When no node is
// left to migrate, the plan is waitLeader: the next step is the
// operator's.
func decide(d *keystore.InitData, reports []Report) (plan, error) {
	p := d.Pending
	if p != nil && p.Kind != keystore.PendingSealMigration {
		return plan{}, fmt.Errorf("a %s is under way in the keystore: let `vault-init run` (or the command that started it) settle it first", p.Kind)
	}
	cur := sealOf(d)
	var waiting []int
	for i, r := range reports {
		st := r.Status
		if st == nil || !st.Initialized || !st.Migration {
			continue
		}
		if !st.Sealed {
			waiting = append(waiting, i)
			continue
		}
		pl, err := direction(d, st)
		if err != nil {
			return plan{}, fmt.Errorf("node %s: %w", r.Addr, err)
		}
		pl.action, pl.node, pl.waiting = migrate, i, waiting
		switch {
		case p != nil && p.SealType == pl.to:
			// Interrupted: the pending change is saved already.
		case pl.to != cur:
			pl.pending = &keystore.Pending{Kind: keystore.PendingSealMigration, SealType: pl.to}
		}
		return pl, nil
	}
	if len(waiting) > 0 {
		return plan{action: waitLeader, node: waiting[0], from: cur, to: reports[waiting[0]].Status.Type, waiting: waiting}, nil
	}
	// No node waits for a migration: settle or abandon a pending one when
	// every initialized node that answers agrees (an uninitialized Vault
	// reports shamir and proves nothing about this one).
	if p != nil {
		var agreed []int
		var onNew, onOld int
		for i, r := range reports {
			if st := r.Status; st != nil && st.Initialized {
				agreed = append(agreed, i)
				if st.Type == p.SealType {
					onNew++
				}
				if st.Type == cur {
					onOld++
				}
			}
		}
		switch n := len(agreed); {
		case n > 0 && onNew == n && p.SealType != cur:
			return plan{action: settle, node: agreed[0], from: cur, to: p.SealType}, nil
		case n > 0 && onOld == n:
			return plan{action: abandon, node: agreed[0], from: cur, to: p.SealType}, nil
		case n > 0:
			return plan{}, fmt.Errorf("%w: a migration from %s to %s is pending in the keystore and the nodes disagree, so it is neither settled nor dropped (%s). "+
				"Restart each node on another seal with the stanza of the others (the new seal to finish the migration, the old one on every node to drop it), "+
				"then run `vault-init migrate` again", ErrDisagree, cur, p.SealType, list(reports))
		}
	}
	var down, other []string
	for _, r := range reports {
		switch {
		case r.Status == nil:
			down = append(down, fmt.Sprintf("%s: %v", r.Addr, r.Err))
		case r.Status.Type != cur || !r.Status.Initialized:
			other = append(other, r.Addr+": "+describe(r.Status))
		}
	}
	switch {
	case len(down) > 0:
		return plan{}, fmt.Errorf("%w (%s). A Vault whose new seal (transit Vault, KMS) is unreachable exits at startup: check Vault's logs. "+
			"Recovery keys cannot unseal it; it needs its seal back", ErrUnreachable, strings.Join(down, "; "))
	case len(other) > 0:
		return plan{}, fmt.Errorf("%w; the keystore holds %s keys and the nodes report: %s", ErrNothingWaits, cur, strings.Join(other, "; "))
	}
	return plan{action: nothing, from: cur, to: cur}, nil
}

// list is every node's reply in a few words, for messages.
func list(reports []Report) string {
	var out []string
	for _, r := range reports {
		if r.Status == nil {
			out = append(out, fmt.Sprintf("%s: %v", r.Addr, r.Err))
			continue
		}
		out = append(out, r.Addr+": "+describe(r.Status))
	}
	return strings.Join(out, "; ")
}

// direction is the migration that a node waiting for one asks for, with
// the keystore's shares: Shamir to an auto-unseal seal (the unseal keys
// become recovery keys), auto-unseal to Shamir (the reverse), auto-unseal
// to auto-unseal (recovery keys stay recovery keys), or the seal the
// keystore has already (another node of a cluster that migrated: nothing
// to rename). Anything else is refused.
func direction(d *keystore.InitData, st *api.SealStatusResponse) (plan, error) {
	cur := sealOf(d)
	to := st.Type
	pl := plan{from: cur, to: to, keys: d.GenerateRootKeys(), threshold: d.SecretThreshold}
	if d.AutoUnseal() {
		pl.threshold = d.RecoveryThreshold
	}
	switch {
	case !st.Initialized:
		return plan{}, errors.New("vault is not initialized")
	case !st.Sealed:
		return plan{}, errors.New("vault reports migration and unsealed: it is not the state a migration starts from")
	case to == "":
		return plan{}, errors.New("vault names no seal type")
	case to == Shamir && st.RecoverySeal:
		return plan{}, errors.New("vault migrates to shamir but reports a recovery seal")
	case to != Shamir && !st.RecoverySeal:
		return plan{}, fmt.Errorf("vault migrates to %s but reports no recovery seal", to)
	case st.T != pl.threshold || st.T > len(pl.keys):
		return plan{}, fmt.Errorf("vault wants %d shares and the keystore holds %d with threshold %d (%s): "+
			"these are not this Vault's shares", st.T, len(pl.keys), pl.threshold, cur)
	}
	return pl, nil
}

// describe is a node's seal-status in a few words, for messages.
func describe(st *api.SealStatusResponse) string {
	if !st.Initialized {
		return "not initialized"
	}
	return fmt.Sprintf("seal %s, sealed %t, migration %t", st.Type, st.Sealed, st.Migration)
}
