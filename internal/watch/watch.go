// Package watch is vault-init's control loop. For each Vault node it looks
// at the node, decides its state in one place (vaultstate), and does the one
// thing that state needs: initialize, unseal, configure, or wait. Nodes are
// watched concurrently, so one that is down or slow delays no other. It runs
// until its context ends.
package watch

import (
	"context"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/banner"
	"github.com/aurora/vault-init/internal/initializer"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/monitor"
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
	// FastPoll is how often a failed check is retried for FastPollFor after
	// the node last answered: a restarted Vault is back within seconds, and
	// should be unsealed the moment it answers. After that, the backoff
	// (FirstRetry doubling up to the check interval) keeps an outage cheap.
	FastPoll    = 50 * time.Millisecond
	FastPollFor = 30 * time.Second
	// JoinPatience is how many unseal rounds in a row a Raft node may end
	// "joining" before vault-init reports that it does not join.
	JoinPatience = 10
)

// Options is what the loop needs to know. The caller fills it from config.
type Options struct {
	Nodes             []string // API addresses; one for a single Vault
	InitAddr          string   // the node to initialize; "" means the first that answers
	KVMount           string
	FallbackToken     string // VAULT_TOKEN: used only when the keystore has no root token
	SecretShares      int
	SecretThreshold   int
	RecoveryShares    int
	RecoveryThreshold int
	CheckInterval     time.Duration
	// AuditFile, when set, is the file_path of a file audit device to
	// ensure ("stdout" for Vault's own output).
	AuditFile string
	// Metrics, when set, records checks, unseals and errors.
	Metrics *monitor.Metrics
	// App, when set, has vault-init keep the application's policy and its
	// periodic token (<data-dir>/app-token).
	App *apptoken.Options
	// RevokeRoot revokes the root token once Vault is configured; later
	// setups use a short-lived root token generated from the stored keys.
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
	// Pod, when set, is this pod's name: the keystore is a Kubernetes
	// Secret, and the banner names where the tokens are and how to read
	// them instead of printing them into the pod's log.
	Pod string
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
	opts  Options
	keys  *keystore.Keys // the keys: the data dir's, or opts.Keys
	local *keystore.File // the data dir: pause mark, lock, nonce
	log   *zap.Logger
	out   io.Writer // the banner goes here
	init  *initializer.Initializer
	nodes []*node

	mu              sync.Mutex
	data            *keystore.InitData // the keys last read or saved, for when the file vanishes
	bannerPending   bool               // this run initialized Vault and owes the operator the banner
	initNode        string             // the node chosen to initialize
	warnedMode      fs.FileMode        // the keystore mode last warned about
	warnedStore     map[string]bool    // the store's warnings already logged
	toldInit        bool               // "already initialized" was logged
	mountDone       bool               // the mount was ensured through an active node
	initDone        chan struct{}      // while a node's init is under way; closed when it ends
	states          map[string]vaultstate.State
	pauseLogged     bool      // the pause mark was logged
	appToken        string    // an app token issued in this run, owed to the operator in a banner
	appRenewedAt    time.Time // when the app token was last renewed
	freshMountTaken bool      // the mount-at-once of a fresh Vault was tried

	generating sync.Mutex // held around a generate-root attempt
}

// New returns a Watcher for the nodes in opts, one client each, in the same
// order. out receives the banner; errOut the emergency block if the keys
// cannot be saved before a shutdown.
func New(opts Options, clients []*api.Client, local *keystore.File, log *zap.Logger, out, errOut io.Writer) *Watcher {
	keys := local.Keys
	if opts.Keys != nil {
		keys = opts.Keys
	}
	w := &Watcher{opts: opts, keys: keys, local: local, log: log, out: out, states: map[string]vaultstate.State{}}
	w.init = &initializer.Initializer{
		Keys: keys, Log: log.Named("init"), VaultAddr: opts.Nodes[0], Holder: opts.Holder,
		Shares: opts.SecretShares, Threshold: opts.SecretThreshold,
		RecoveryShares: opts.RecoveryShares, RecoveryThreshold: opts.RecoveryThreshold, Emergency: errOut,
		InitTimeout: InitTimeout, SaveBackoff: backoff.New(FirstRetry, MaxErrorRetry), LockWarnAfter: LockWarnAfter,
		OnSaveFailure: opts.Metrics.SaveFailed,
	}
	for i, addr := range opts.Nodes {
		nlog := log
		if len(opts.Nodes) > 1 {
			nlog = log.With(zap.String("node", addr))
		}
		w.nodes = append(w.nodes, newNode(w, addr, clients[i], nlog))
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

// paused reports whether the data dir carries the "sealed on purpose"
// mark, logging it once per pause (and its end).
func (w *Watcher) paused() bool {
	p, err := w.local.Paused()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case p != nil && !w.pauseLogged:
		fields := []zap.Field{zap.Time("since", p.Since), zap.String("reason", p.Reason)}
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		w.log.Warn("paused: vault-init does not initialize or unseal Vault until `vault-init resume`", fields...)
		w.pauseLogged = true
	case p == nil && w.pauseLogged:
		w.log.Info("resumed: vault-init unseals Vault again")
		w.pauseLogged = false
	}
	return p != nil
}

// setMountDone records that the mount is in place.
func (w *Watcher) setMountDone() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mountDone = true
}

// isMountDone reports whether the mount was ensured in this run.
func (w *Watcher) isMountDone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mountDone
}

// cluster reports whether more than one node is watched.
func (w *Watcher) cluster() bool { return len(w.nodes) > 1 }

// takeFreshMount reports, once, whether this run initialized Vault and has
// not configured it yet: the mount can then be created without a look.
// Retries look first, so that a failed setup does not POST the mount again.
func (w *Watcher) takeFreshMount() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	fresh := w.bannerPending && !w.freshMountTaken
	w.freshMountTaken = true
	return fresh
}

// setState records a node's latest state, for Ready.
func (w *Watcher) setState(addr string, s vaultstate.State) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.states[addr] = s
}

// Ready reports whether every node is unsealed and the mount is in place.
// It is safe to call from any goroutine (the /readyz handler does).
func (w *Watcher) Ready() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.mountDone {
		return false
	}
	for _, n := range w.nodes {
		if !w.states[n.addr].Unsealed() {
			return false
		}
	}
	return true
}

// printBanner prints what this run owes the operator, once: the banner of
// an init, or that of an app token issued on a later start. root is the
// token that configured Vault (shown only when it is the kept root token).
func (w *Watcher) printBanner(root string) {
	w.mu.Lock()
	setup, app := w.bannerPending, w.appToken
	w.bannerPending, w.appToken = false, ""
	w.mu.Unlock()
	// Written without the lock: a stdout that blocks (a full pipe) must not
	// stall the other nodes, or Ready and so /readyz.
	var err error
	switch {
	case w.opts.Pod != "" && (setup || app != ""):
		err = banner.WriteKept(w.out, banner.Kept{Where: w.keys.Path(), Pod: w.opts.Pod, RootRevoked: w.opts.RevokeRoot && setup, App: app != ""})
	case setup:
		err = banner.WriteSetup(w.out, banner.Setup{Root: root, RootRevoked: w.opts.RevokeRoot, App: app})
	case app != "":
		err = banner.WriteAppToken(w.out, app)
	default:
		return
	}
	if err != nil {
		w.log.Error("could not print the banner; show the tokens with `vault-init root-token` and `vault-init app-token`", zap.Error(err))
	}
}

// appTokenIssued records a new app token, owed to the operator in a banner.
func (w *Watcher) appTokenIssued(token string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.appToken, w.appRenewedAt = token, time.Now()
}

func (w *Watcher) setAppRenewed(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.appRenewedAt = t
}

func (w *Watcher) appRenewed() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.appRenewedAt
}
