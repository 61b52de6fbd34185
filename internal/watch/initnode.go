package watch

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/vaultstate"
)

// Which node is initialized, and what the other nodes know of that init.

// mayInitialize says whether n is the node to initialize: the configured
// init node, or else the first node, in the configured order, that answers.
// In a cluster, no node is initialized while any node that answers says it
// is initialized already: the uninitialized ones are joining it.
func (w *Watcher) mayInitialize(ctx context.Context, n *node) bool {
	if !w.cluster() {
		return w.noPeerInitialized(ctx, n)
	}
	// Probe without holding the lock: the other nodes' loops need it.
	first, anyInitialized := "", false
	for _, c := range w.nodes {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		obs := vaultstate.Observe(pctx, c.client.Sys())
		cancel()
		if !obs.State.Answered() {
			continue
		}
		if first == "" {
			first = c.addr
		}
		if obs.State != vaultstate.Uninitialized {
			anyInitialized = true
		}
	}
	if anyInitialized {
		n.log.Debug("another node is initialized: this one is joining it, not to be initialized")
		return false
	}
	if w.opts.InitAddr != "" {
		return n.addr == w.opts.InitAddr
	}
	chosen, picked := w.coord.choose(first)
	if picked {
		w.log.Info("chose the node to initialize: the first that answers", zap.String("init_node", first))
	}
	return chosen == n.addr
}

// noPeerInitialized asks the peers of a shared keystore's node: while one
// answers that it is initialized, this node is to join that cluster, never
// to be initialized. Without it, a node whose sidecar finds no keys (the
// Secret deleted, a new pod) would start a second cluster of its own. A
// peer that does not answer is not counted: on a fresh cluster the claim
// decides.
func (w *Watcher) noPeerInitialized(ctx context.Context, n *node) bool {
	for _, c := range w.opts.Peers {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		obs := vaultstate.Observe(pctx, c.Sys())
		cancel()
		if obs.State.Answered() && obs.State != vaultstate.Uninitialized {
			n.log.Debug("a peer is initialized: this node joins its cluster, not to be initialized", zap.String("peer", c.Address()))
			n.peerInitialized = c.Address()
			return false
		}
	}
	n.peerInitialized = ""
	return true
}
