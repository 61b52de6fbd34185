// Package watch is vault-init's control loop: polling and coordination. For
// each Vault node it looks at the node, decides its state in one place
// (vaultstate), and does the one thing that state needs: initialize
// (internal/initializer), unseal (internal/unseal), set up (internal/setup,
// which holds every setup step), or wait. Nodes are watched concurrently,
// so one that is down or slow delays no other. It runs until its context
// ends.
//
// Who does what: watch.go is the Watcher and its options; node.go one
// node's loop and its state changes; sealed.go the init and unseal of a
// node; wait.go how long each round waits; state.go what the nodes share.
// The parts with a contract of their own are packages: coord chooses the
// node to initialize; join is the patience with a node that joins its
// cluster; disagree notices replies that contradict each other; failure
// reports what fails; notice says what is said once; keyring holds the
// keys. What happens is reported as events (internal/events).
package watch

import (
	"context"
	"io"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/initializer"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/setup"
	"github.com/aurora/vault-init/internal/watch/coord"
	"github.com/aurora/vault-init/internal/watch/keyring"
	"github.com/aurora/vault-init/internal/watch/notice"
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
	// FastPoll is how often a failed check is retried for FastPollFor after
	// the node last answered: a restarted Vault is back within seconds, and
	// should be unsealed the moment it answers. After that, the backoff
	// (FirstRetry doubling up to the check interval) keeps an outage cheap.
	FastPoll    = 50 * time.Millisecond
	FastPollFor = 30 * time.Second
	// JoinPatience is how many unseal rounds in a row a Raft node may end
	// "joining" before vault-init reports that it does not join.
	JoinPatience = 10
	// JoinDataWait is how long a Raft node that joined may hold none of
	// its cluster's data before vault-init reports it (and JoinPatience
	// rounds at least): the leader sends a large snapshot in its own time.
	JoinDataWait = 2 * time.Minute
)

// Options is what the loop needs to know. The caller fills it from config.
type Options struct {
	Nodes    []string // API addresses; one for a single Vault
	InitAddr string   // the node to initialize; "" means the first that answers
	// KVMount, FallbackToken, AuditFile, App, RevokeRoot and Pod are
	// setup's (setup.Options says what each does).
	KVMount           string
	FallbackToken     string
	SecretShares      int
	SecretThreshold   int
	RecoveryShares    int
	RecoveryThreshold int
	CheckInterval     time.Duration
	// JoinDataWait replaces the package's JoinDataWait when not 0 (tests).
	JoinDataWait time.Duration
	AuditFile    string
	// Events, when set, receives what happens (metrics, logs, tests).
	Events events.Sink
	// Clock is the loop's clock (the real one when nil): it times each
	// node's wait between rounds (check interval, backoffs, fast polling),
	// when an unchanged error is logged again, setup's repeats and the
	// app token's renewal, and stamps the events. It does not time the
	// initializer's save retries and its wait for the data dir's lock, nor
	// the requests' timeouts (HealthTimeout, InitTimeout, coord's probes):
	// those use real time.
	Clock      clock.Clock
	App        *apptoken.Options
	RevokeRoot bool
	// Keys, when set, is the keystore when it is not the data dir's: a
	// Kubernetes Secret. The data dir still keeps the local state (pause
	// mark, lock, generate-root nonce).
	Keys *keystore.Keys
	// Shared says that the keystore is shared with the vault-init of every
	// other node of this Vault's Raft cluster, each watching its own node
	// (sidecars on Kubernetes): a node that is not initialized while the
	// keystore holds keys is joining the cluster, and the keystore's claim
	// decides which vault-init initializes.
	Shared bool
	// Holder names this vault-init in the keystore's init claim.
	Holder string
	Pod    string
	// Peers are clients of the other nodes of the cluster, with a shared
	// keystore: no init while one of them says it is initialized (this
	// node then joins it). They are only asked, never acted on.
	Peers []*api.Client
	// Once ends Run when every node is unsealed and the mount is in place
	// (or the data dir is paused), instead of watching on.
	Once bool
}

// Watcher keeps one Vault, or every node of a cluster, initialized,
// unsealed and configured.
type Watcher struct {
	opts   Options
	keys   *keyring.Ring  // the keys: the data dir's, or opts.Keys
	local  *keystore.File // the data dir: pause mark, lock, nonce
	log    *zap.Logger
	clock  clock.Clock
	events *events.Emitter
	init   *initializer.Initializer
	setup  *setup.Setup
	nodes  []*node

	coord  *coord.Coordinator // which node is initialized, and whether it is under way
	notes  *notice.Notices    // what is said once per run, or once per change
	states nodeStates         // each node's latest state, for Ready
}

// New returns a Watcher for the nodes in opts, one client each, in the same
// order. out receives the banner; errOut the emergency block if the keys
// cannot be saved before a shutdown.
func New(opts Options, clients []*api.Client, local *keystore.File, log *zap.Logger, out, errOut io.Writer) *Watcher {
	keys := local.Keys
	if opts.Keys != nil {
		keys = opts.Keys
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	em := &events.Emitter{Sink: opts.Events, Now: clk.Now}
	w := &Watcher{opts: opts, local: local, log: log, clock: clk, events: em,
		coord: &coord.Coordinator{InitAddr: opts.InitAddr, Log: log}, notes: &notice.Notices{Log: log, Emit: em.Emit, Pod: opts.Pod}}
	for _, p := range opts.Peers {
		w.coord.Peers = append(w.coord.Peers, coord.Node{Addr: p.Address(), Health: p.Sys()})
	}
	w.keys = keyring.New(keys, local, log, em)
	w.init = &initializer.Initializer{
		Keys: keys, Log: log.Named("init"), VaultAddr: opts.Nodes[0], Holder: opts.Holder,
		Shares: opts.SecretShares, Threshold: opts.SecretThreshold,
		RecoveryShares: opts.RecoveryShares, RecoveryThreshold: opts.RecoveryThreshold, Emergency: errOut,
		InitTimeout: InitTimeout, SaveBackoff: backoff.New(FirstRetry, MaxErrorRetry), LockWarnAfter: LockWarnAfter,
		OnSaveFailure: func(err error) { em.Emit(events.Event{Kind: events.SaveFailed, Error: err.Error()}) },
	}
	w.setup = setup.New(setup.Options{KVMount: opts.KVMount, FallbackToken: opts.FallbackToken, AuditFile: opts.AuditFile,
		App: opts.App, RevokeRoot: opts.RevokeRoot, Pod: opts.Pod, Clock: clk, Events: em}, w.keys, local, log, out)
	for i, addr := range opts.Nodes {
		nlog := log
		if len(opts.Nodes) > 1 {
			nlog = log.With(zap.String("node", addr))
		}
		w.nodes = append(w.nodes, newNode(w, addr, clients[i], nlog))
		w.coord.Nodes = append(w.coord.Nodes, coord.Node{Addr: addr, Health: clients[i].Sys()})
	}
	return w
}

// Run watches every node until ctx ends, and then returns nil. It returns
// early only with initializer.ErrKeysUnsaved, when it was stopped while
// holding keys it could not save (they have then been printed to errOut).
func (w *Watcher) Run(ctx context.Context) error {
	w.log.Info("watching vault", zap.Strings("nodes", w.opts.Nodes), zap.Duration("check_interval", w.opts.CheckInterval),
		zap.String("keystore", w.keys.Path()))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(w.nodes))
	for _, n := range w.nodes {
		go func() { errc <- n.run(ctx) }()
	}
	var first error
	for range w.nodes {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel() // the keys could not be saved: stop every node
		}
	}
	if first == nil && w.opts.Once && ctx.Err() == nil {
		w.log.Info("--once: every node is done; exiting")
	} else if first == nil {
		w.log.Info("stopping")
	}
	return first
}

// Ready reports whether every node is unsealed and the mount is in place.
// It is safe to call from any goroutine (the /readyz handler does).
func (w *Watcher) Ready() bool {
	return w.setup.Done() && w.states.allUnsealed(w.opts.Nodes)
}

// cluster reports whether more than one node is watched.
func (w *Watcher) cluster() bool { return len(w.nodes) > 1 }
