// Package coord decides which Vault node vault-init initializes, and tells
// the loops of the other nodes when that init is under way and when it
// ends. There is one init per cluster: the configured init node, or else
// the first node, in the configured order, that answers; none while any
// node, or any peer of a shared keystore, says it is initialized already
// (the uninitialized ones are joining it).
//
// A Coordinator is shared by the loops of every node of one watch loop and
// is safe for concurrent use. It only looks at nodes (their health check),
// never acts on them.
package coord

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/vaultstate"
)

// ProbeTimeout bounds each look at another node or a peer.
const ProbeTimeout = 2 * time.Second

// Node is a node, or a peer, as the Coordinator looks at it: its address
// and its health check (an api client's Sys(); a fake in tests).
type Node struct {
	Addr   string
	Health vaultstate.HealthChecker
}

// Coordinator holds the choice of the node to initialize and whether an
// init is under way. Fill the exported fields before first use and do not
// change them after.
type Coordinator struct {
	// Nodes are every node this vault-init watches, in the configured
	// order; more than one is a cluster.
	Nodes []Node
	// Peers are the other nodes of the cluster when they are watched by
	// other vault-inits over a shared keystore (one node here).
	Peers []Node
	// InitAddr is the node to initialize; "" means the first that answers.
	InitAddr string
	// Log receives the choice of the init node.
	Log *zap.Logger

	mu     sync.Mutex
	chosen string        // the node chosen to initialize ("" none yet)
	done   chan struct{} // while a node's init is under way; closed when it ends
}

// MayInitialize says whether the node at addr, found uninitialized, is the
// one to initialize, looking at the other nodes (at most ProbeTimeout
// each, and never longer than ctx). With a single node, peer names the peer
// that said it is initialized when that is why not ("" otherwise). log is
// the node's logger.
func (c *Coordinator) MayInitialize(ctx context.Context, addr string, log *zap.Logger) (ok bool, peer string) {
	if len(c.Nodes) <= 1 {
		return c.noPeerInitialized(ctx, log)
	}
	// Probe without holding the lock: the other nodes' loops need it.
	first, anyInitialized := "", false
	for _, n := range c.Nodes {
		st := probe(ctx, n)
		if !st.Answered() {
			continue
		}
		if first == "" {
			first = n.Addr
		}
		if st != vaultstate.Uninitialized {
			anyInitialized = true
		}
	}
	if anyInitialized {
		log.Debug("another node is initialized: this one is joining it, not to be initialized")
		return false, ""
	}
	if c.InitAddr != "" {
		return addr == c.InitAddr, ""
	}
	chosen, picked := c.choose(first)
	if picked {
		c.Log.Info("chose the node to initialize: the first that answers", zap.String("init_node", first))
	}
	return chosen == addr, ""
}

// noPeerInitialized asks the peers of a shared keystore's node: while one
// answers that it is initialized, this node is to join that cluster, never
// to be initialized. Without it, a node whose sidecar finds no keys (the
// Secret deleted, a new pod) would start a second cluster of its own. A
// peer that does not answer is not counted: on a fresh cluster the claim
// decides.
func (c *Coordinator) noPeerInitialized(ctx context.Context, log *zap.Logger) (ok bool, peer string) {
	for _, p := range c.Peers {
		if st := probe(ctx, p); st.Answered() && st != vaultstate.Uninitialized {
			log.Debug("a peer is initialized: this node joins its cluster, not to be initialized", zap.String("peer", p.Addr))
			return false, p.Addr
		}
	}
	return true, ""
}

// probe looks at n for at most ProbeTimeout.
func probe(ctx context.Context, n Node) vaultstate.State {
	pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	return vaultstate.Observe(pctx, n.Health).State
}

// choose makes first the chosen node unless one is chosen already, and
// returns the chosen one; picked says that first was chosen now.
func (c *Coordinator) choose(first string) (chosen string, picked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chosen == "" && first != "" {
		c.chosen, picked = first, true
	}
	return c.chosen, picked
}

// Forget drops the choice if it is addr: it went away before it could be
// initialized, and the next node that answers is chosen instead.
func (c *Coordinator) Forget(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chosen == addr {
		c.chosen = ""
	}
}

// Start records that an init begins. Every Start must be followed by End.
func (c *Coordinator) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
	}
}

// End records that the init ended, which closes the channel that
// UnderWay returned to the nodes waiting for it.
func (c *Coordinator) End() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		close(c.done)
		c.done = nil
	}
}

// UnderWay returns, while an init is under way, a channel closed when it
// ends; nil otherwise.
func (c *Coordinator) UnderWay() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}
