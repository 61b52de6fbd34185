package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/monitor"
	"github.com/aurora/vault-init/internal/notify"
	"github.com/aurora/vault-init/internal/status"
	"github.com/aurora/vault-init/internal/vaultclient"
	"github.com/aurora/vault-init/internal/watch"
)

// runWatch is `vault-init run`: the long-running sidecar.
func runWatch(ctx context.Context, s *settings, stdout, stderr io.Writer) error {
	cfg, clients, st, err := open(s)
	if err != nil {
		return failure(err)
	}
	var peers []*api.Client
	for _, addr := range cfg.Peers {
		c, err := vaultclient.New(cfg, addr)
		if err != nil {
			return failure(err)
		}
		peers = append(peers, c)
	}
	keys := st.keys
	log := newLogger(cfg, stderr)
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone
	switch did, err := keys.Migrate(); {
	case err != nil:
		log.Error("keystore", zap.Error(err))
	case did != "":
		log.Info("keystore: "+did, zap.String("path", keys.Path()))
	}
	for _, addr := range cfg.Nodes() {
		if p := vaultclient.ProxyFor(addr); p != nil {
			log.Warn("requests to this Vault node go through a proxy (HTTP_PROXY or HTTPS_PROXY): the unseal keys and tokens pass through it. "+
				"Add the node's host to NO_PROXY unless that is intended", zap.String("node", addr), zap.String("proxy", p.Host))
		}
	}
	var metrics *monitor.Metrics
	sinks := []events.Sink{events.Log(log)}
	if cfg.Listen != "" {
		metrics = monitor.New()
		sinks = append(sinks, metrics) // only when set: a nil *Metrics in a Sink is not a nil Sink
	}
	var notifier *notify.Notifier
	if len(cfg.Notify) > 0 {
		if notifier, err = notify.New(cfg.Notify, notify.Options{Version: Version, Log: log.Named("notify")}); err != nil {
			return failure(err)
		}
		sinks = append(sinks, notifier)
	}
	w := watch.New(watch.Options{
		Nodes: cfg.Nodes(), InitAddr: cfg.InitAddr, KVMount: cfg.KVMount, FallbackToken: cfg.Token.Reveal(),
		SecretShares: cfg.SecretShares, SecretThreshold: cfg.SecretThreshold,
		RecoveryShares: cfg.RecoveryShares, RecoveryThreshold: cfg.RecoveryThreshold, CheckInterval: cfg.CheckInterval,
		Once: cfg.Once, AuditFile: auditFile(cfg.Audit), Events: events.Multi(sinks...), App: appOptions(cfg), RevokeRoot: cfg.RevokeRoot,
		Keys: st.keys, Shared: st.shared, Holder: holder(cfg), Peers: peers, Pod: podName(st),
	}, clients, st.local, log, stdout, stderr)
	if metrics != nil {
		go func() {
			if err := metrics.Serve(ctx, cfg.Listen, w.Ready); err != nil {
				log.Error("the monitoring listener stopped", zap.String("listen", cfg.Listen), zap.Error(err))
			}
		}()
		log.Info("serving /healthz, /readyz and /metrics", zap.String("listen", cfg.Listen))
	}
	if notifier == nil {
		return failure(w.Run(ctx))
	}
	// The notifier outlives the loop by its bounded grace, so that what
	// happened last (a --once run's events, an init that a stop let
	// finish) is still sent: its grace starts when the loop has ended,
	// not at the stop signal.
	nctx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
	delivered := make(chan struct{})
	go func() {
		notifier.Run(nctx)
		close(delivered)
	}()
	log.Info("sending notifications", zap.Int("urls", len(cfg.Notify)))
	err = w.Run(ctx)
	stopNotify()
	<-delivered
	return failure(err)
}

// HealthCacheFile, beside the keystore, remembers the healthcheck's last
// successful mount check (status.MountCache). It holds no secret.
const HealthCacheFile = ".healthcheck"

// mountCheckEvery is status.DefaultMountCheckEvery; tests shorten it.
var mountCheckEvery = status.DefaultMountCheckEvery

// runStatus is `vault-init status`, or `healthcheck` when quiet.
func runStatus(ctx context.Context, s *settings, out io.Writer, quiet bool) error {
	cfg, clients, st, err := open(s)
	if err != nil {
		return failure(err)
	}
	ctx, cancel := context.WithTimeout(ctx, watch.HealthTimeout)
	defer cancel()
	// The healthcheck runs every few seconds: it asks Vault about the mount
	// (an audited request) only every mountCheckEvery. status always asks.
	var cache *status.MountCache
	if quiet {
		// Beside the keys, where only vault-init's user may write: a note
		// that others could forge would hide a missing mount.
		cache = &status.MountCache{Path: filepath.Join(st.local.Dir(), HealthCacheFile), MaxAge: mountCheckEvery}
	}
	r := status.Gather(ctx, clients, st.keys, st.local, cfg.KVMount, cfg.Token.Reveal(), cache)
	if err := r.Write(out); err != nil {
		return failure(err)
	}
	if !r.Ready() {
		if quiet {
			return &exitError{code: ExitFailure}
		}
		return &exitError{code: ExitFailure, err: errors.New("vault is not ready")}
	}
	return nil
}

// runRootToken is `vault-init root-token`.
func runRootToken(s *settings, stdout io.Writer) error {
	cfg, err := s.load()
	if err != nil {
		return failure(err)
	}
	st, err := storesFor(cfg)
	if err != nil {
		return failure(err)
	}
	data, err := st.keys.Load()
	if err != nil {
		return failure(fmt.Errorf("read root token: %w", err))
	}
	if data.RootTokenRevoked {
		return failure(errors.New("the root token was revoked after setup (VAULT_INIT_REVOKE_ROOT). " +
			"Make one from the unseal keys with `vault operator generate-root` when you need it, and revoke it after"))
	}
	if data.RootToken == "" {
		return failure(errors.New("the keystore holds no root token"))
	}
	_, err = fmt.Fprintln(stdout, data.RootToken)
	return failure(err)
}

// runAppToken is `vault-init app-token`: the scratch image has no cat.
func runAppToken(s *settings, stdout io.Writer) error {
	cfg, err := s.load()
	if err != nil {
		return failure(err)
	}
	st, err := storesFor(cfg)
	if err != nil {
		return failure(err)
	}
	token, err := st.keys.LoadAppToken()
	if errors.Is(err, keystore.ErrNotFound) && cfg.AppToken {
		// Told apart from "off" (exit 1), so that `make env-token` waits
		// for it instead of writing the root token in its place.
		return &exitError{code: ExitNotYet, err: errors.New("VAULT_INIT_APP_TOKEN is on, but the app token is not issued yet: vault-init issues it once Vault is set up; ask again in a moment")}
	}
	if errors.Is(err, keystore.ErrNotFound) {
		return failure(errors.New("no app token yet: run vault-init with VAULT_INIT_APP_TOKEN=true"))
	}
	if err != nil {
		return failure(err)
	}
	_, err = fmt.Fprintln(stdout, token)
	return failure(err)
}

// appOptions is the app token's setup, or nil when it is off.
func appOptions(cfg config.Config) *apptoken.Options {
	if !cfg.AppToken {
		return nil
	}
	return &apptoken.Options{Policy: cfg.AppPolicy, Mount: cfg.KVMount, BasePath: cfg.KVBasePath, Period: cfg.AppTokenPeriod}
}

// stores is where a command finds the keys and the local state.
type stores struct {
	local *keystore.File // the data dir: pause mark, lock, nonce; the keys too with the file keystore
	keys  *keystore.Keys
	// shared: the keys are shared by the vault-init of every node of the
	// cluster, each watching its own node (Kubernetes sidecars).
	shared bool
}

// storesFor opens the keystore that cfg describes, in the data dir or in a
// Kubernetes Secret: encrypted with age when a recipient is set; read with
// the identity file when one is set.
func storesFor(cfg config.Config) (stores, error) {
	local := keystore.New(cfg.DataDir)
	var rs []age.Recipient
	var ids []age.Identity
	if cfg.AgeRecipient != "" || cfg.AgeIdentityFile != "" {
		var err error
		if rs, ids, err = keystore.ParseAge(cfg.AgeRecipient, cfg.AgeIdentityFile); err != nil {
			return stores{}, config.Problems{err.Error()}
		}
	}
	encrypt := func(k *keystore.Keys) *keystore.Keys {
		if rs == nil && ids == nil {
			return k
		}
		return k.WithAge(rs, ids)
	}
	if cfg.Keystore != config.KeystoreKubernetes {
		if rs != nil || ids != nil {
			local = local.WithAge(rs, ids)
		}
		return stores{local: local, keys: local.Keys}, nil
	}
	rc, err := k8sstore.RESTConfig()
	if err != nil {
		return stores{}, fmt.Errorf("keystore kubernetes: %w", err)
	}
	ns := cfg.K8sNamespace
	if ns == "" {
		ns = k8sstore.DefaultNamespace()
	}
	secret, err := k8sstore.Open(rc, ns, cfg.K8sSecret)
	if err != nil {
		return stores{}, fmt.Errorf("keystore kubernetes: %w", err)
	}
	return stores{local: local, keys: encrypt(keystore.NewKeys(secret)), shared: true}, nil
}

// holder names this vault-init in a shared keystore's init claim: its host
// (a pod's name) and its Vault, which together stay the same across a
// restart of the sidecar and differ between the pods of a StatefulSet.
func holder(cfg config.Config) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return host + " " + strings.Join(cfg.Nodes(), ",")
}

// podName is this pod's name (its hostname) with the kubernetes keystore,
// for the banner; "" otherwise.
func podName(st stores) string {
	if !st.shared {
		return ""
	}
	host, err := os.Hostname()
	if err != nil {
		return "POD"
	}
	return host
}

// open loads the configuration and opens what most commands use: a client
// for each node, and the stores.
func open(s *settings) (config.Config, []*api.Client, stores, error) {
	cfg, err := s.load()
	if err != nil {
		return cfg, nil, stores{}, err
	}
	clients, err := clientsFor(cfg)
	if err != nil {
		return cfg, nil, stores{}, err
	}
	st, err := storesFor(cfg)
	return cfg, clients, st, err
}

// clientsFor returns a client for each node of cfg, in order.
func clientsFor(cfg config.Config) ([]*api.Client, error) {
	var clients []*api.Client
	for _, addr := range cfg.Nodes() {
		c, err := vaultclient.New(cfg, addr)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	return clients, nil
}

// runPause is `vault-init pause`: an operator's emergency seal must stay.
func runPause(s *settings, stdout io.Writer, reason string) error {
	cfg, err := s.load()
	if err != nil {
		return failure(err)
	}
	if err := keystore.New(cfg.DataDir).SetPause(reason); err != nil {
		return failure(err)
	}
	_, err = fmt.Fprintln(stdout, "paused: vault-init will not unseal or initialize Vault until `vault-init resume`")
	return failure(err)
}

// runResume is `vault-init resume`.
func runResume(s *settings, stdout io.Writer) error {
	cfg, err := s.load()
	if err != nil {
		return failure(err)
	}
	if err := keystore.New(cfg.DataDir).ClearPause(); err != nil {
		return failure(err)
	}
	_, err = fmt.Fprintln(stdout, "resumed: vault-init unseals Vault again")
	return failure(err)
}

// auditFile is the file_path of the audit device cfg asks for ("stdout" or
// "file:/path", as config validated), or "".
func auditFile(spec string) string {
	return strings.TrimPrefix(spec, "file:")
}
