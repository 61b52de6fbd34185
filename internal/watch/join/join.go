// Package join is vault-init's patience with a node that is to join its
// Raft cluster rather than be initialized: a follower says "not
// initialized" until its retry_join reaches the initialized leader, and
// stays sealed after the threshold key until it has joined. Waiting is
// normal for a while; past the patience, each wait comes with an error
// that says what is likely wrong, for the caller to report.
//
// A Patience belongs to one node's loop: it is not safe for concurrent use.
package join

import (
	"fmt"
	"time"

	"github.com/aurora/vault-init/internal/vaultstate"
)

// Patience counts one node's rounds in a row spent waiting for its join.
type Patience struct {
	// Rounds is how many unseal rounds in a row may end with the join
	// pending; a node may be found uninitialized for 3×Rounds checks.
	Rounds int
	// DataWait is how long a node that joined may hold none of its
	// cluster's data (NoData) before that is reported, however many rounds
	// that takes: a large snapshot takes its time to arrive.
	DataWait time.Duration

	checks      int       // checks in a row that found the node uninitialized, waiting for its join
	rounds      int       // unseal rounds in a row that ended in a pending join
	noDataSince time.Time // the first of those rounds that found the node without data
}

// The errors are worded from the patience, not from the counts, so that
// the same state reports the same text each round: the failure reporter
// logs (and notifies) an unchanged error again only every RepeatError.

// checked counts a check that found the node uninitialized, and says
// whether the patience with that has run out.
func (p *Patience) checked() bool {
	p.checks++
	return p.checks >= p.Rounds*3
}

// NotJoined counts a check that found the node uninitialized while the
// keystore holds keys (a Raft follower, or a node of a shared keystore
// whose cluster another vault-init initialized). Past the patience it
// returns the error to report; nil before.
func (p *Patience) NotJoined() error {
	if !p.checked() {
		return nil
	}
	return fmt.Errorf("the node has not joined the cluster after %d checks: is its retry_join reaching the initialized nodes?", p.Rounds*3)
}

// PeerWithoutKeys counts a check that found the node uninitialized while
// peer is initialized and the keystore at path holds no keys: the node
// cannot join, and a second cluster must never be made. Past the patience
// it returns the error to report; nil before.
func (p *Patience) PeerWithoutKeys(peer, path string) error {
	if !p.checked() {
		return nil
	}
	return fmt.Errorf("peer %s is initialized, but the keystore %s holds no keys: this node cannot join it. "+
		"Restore the keystore (the Secret) from a backup; vault-init never initializes a second cluster", peer, path)
}

// Claimed counts a check that found the node uninitialized while another
// vault-init holds the init claim of a shared keystore (claim is that
// error): it initializes its own node, which this one then joins. Past the
// patience it returns the error to report, as its holder may have been
// killed between its sys/init and the save; nil before.
func (p *Patience) Claimed(claim error) error {
	if !p.checked() {
		return nil
	}
	return fmt.Errorf("%w. If it stays so, that vault-init was stopped before it saved the keys: when its Vault says it is initialized, "+
		"the keys are lost, and that Vault must be wiped and initialized again; when no Vault of the cluster is initialized, "+
		"remove the claim (see docs/kubernetes.md) and vault-init initializes", claim)
}

// Pending counts an unseal round, at now, that ended with the threshold
// key taken and the node still sealed, joining. After Rounds such rounds in
// a row (NoData's included: both are rounds of a join that has not
// finished), and DataWait since the first without data if there was one,
// it returns the error to report; nil before.
func (p *Patience) Pending(now time.Time) error {
	p.rounds++
	if p.rounds < p.Rounds || p.awaitingData(now) {
		return nil
	}
	return fmt.Errorf("the node stays sealed after %d rounds of the threshold key: is its retry_join reaching this cluster's leader?", p.Rounds)
}

// NoData counts an unseal round, at now, that a Raft node answered as a
// member of its cluster with none of the cluster's data
// (unseal.ErrJoinedNoData; answer is what Vault said). After Rounds rounds
// in a row (Pending's included), and DataWait since the first without
// data, it returns the error to report; nil before.
func (p *Patience) NoData(now time.Time, answer string) error {
	p.rounds++
	if p.noDataSince.IsZero() {
		p.noDataSince = now
	}
	if p.rounds < p.Rounds || p.awaitingData(now) {
		return nil
	}
	return fmt.Errorf("the node joined its raft cluster, but has received none of the cluster's data for %v or more (%d rounds of the threshold key; %s). "+
		"Most often the leader cannot reach this node's cluster address: check the node's cluster_addr (VAULT_CLUSTER_ADDR; port 8201 by default), "+
		"that its cluster listener runs (Vault logs \"error starting listener\" when the port is taken), and that no NetworkPolicy, firewall "+
		"or service-mesh proxy stands between the leader and that port; the leader's log names the address it fails to reach", p.DataWait, p.Rounds, answer)
}

// NoDataSeen says whether a round of this join found the node without
// data (NoData).
func (p *Patience) NoDataSeen() bool { return !p.noDataSince.IsZero() }

// awaitingData says whether a round without data came less than DataWait
// before now.
func (p *Patience) awaitingData(now time.Time) bool {
	return !p.noDataSince.IsZero() && now.Sub(p.noDataSince) < p.DataWait
}

// Observed starts the counts again when a check found the node past
// them: initialized ends the checks; unsealed ends the unseal rounds, and
// so does uninitialized (a node whose Raft data was emptied, to join
// afresh, is a new join).
func (p *Patience) Observed(st vaultstate.State) {
	if st != vaultstate.Uninitialized {
		p.checks = 0
	}
	if st.Unsealed() || st == vaultstate.Uninitialized {
		p.Unsealed()
	}
}

// Unsealed starts the unseal rounds again: an unseal went through.
func (p *Patience) Unsealed() {
	p.rounds = 0
	p.noDataSince = time.Time{}
}
