// Package initializer initializes a Vault exactly once and does not let go of
// the keys until they are safely on disk. sys/init shows the unseal keys and
// the root token one time only, so every step here is ordered around that:
// check that they can be kept, ask for them, keep them, verify.
package initializer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/banner"
	"github.com/aurora/vault-init/internal/faultinject"
	"github.com/aurora/vault-init/internal/keystore"
)

// Errors the caller acts on. Match them with errors.Is.
var (
	// ErrAlreadyInitialized means Vault answered that it is initialized
	// already: someone else won a race. Observe Vault again; do not retry init.
	ErrAlreadyInitialized = errors.New("vault is already initialized")
	// ErrKeystoreHoldsKeys means the keystore has keys while Vault is not
	// initialized: they belong to another (or a wiped) Vault.
	ErrKeystoreHoldsKeys = errors.New("keystore already holds keys")
	// ErrKeysUnsaved means vault-init was stopped while the keys existed
	// only in memory. They were printed once to the emergency writer.
	ErrKeysUnsaved = errors.New("stopped before the unseal keys could be saved")
)

// Vault is what the initializer asks of Vault: the api client's
// Sys().SealStatusWithContext and Sys().InitWithContext. A non-2xx reply
// must be an *api.ResponseError.
type Vault interface {
	SealStatusWithContext(ctx context.Context) (*api.SealStatusResponse, error)
	InitWithContext(ctx context.Context, req *api.InitRequest) (*api.InitResponse, error)
}

// Keystore is what the initializer needs of the keystore (keystore.Keys):
// Load returns an error matching keystore.ErrNotFound only when there is no
// keystore; Save is atomic and returns nil only once the keystore reads back
// equal to its input; Claim returns keystore.ErrLocked while another
// process holds a claim that it gives up soon (a data dir's flock), and
// another error matching keystore.ErrClaimed (a *keystore.ClaimError) for
// one that lasts (a Kubernetes Secret claimed by another vault-init).
type Keystore interface {
	Path() string
	Claim(holder string) (release func(sent bool), err error)
	CheckWritable() error
	Load() (*keystore.InitData, error)
	Save(d *keystore.InitData) error
}

// Initializer calls sys/init once and saves what it returns.
type Initializer struct {
	Keys      Keystore
	Log       *zap.Logger
	VaultAddr string // recorded in the keystore, for people reading it later
	// Holder names this vault-init in a claim that others can see (a
	// Kubernetes Secret's): its host (the pod) and its Vault.
	Holder    string
	Shares    int
	Threshold int
	// RecoveryShares and RecoveryThreshold replace Shares and Threshold
	// when Vault has an auto-unseal seal: it then returns recovery keys.
	RecoveryShares    int
	RecoveryThreshold int
	// Emergency receives the keys, once, if the process must stop before
	// they are saved. It is stderr in the real program.
	Emergency io.Writer
	// InitTimeout bounds the sys/init request. That request is never
	// cancelled by a shutdown: its reply is the only copy of the keys.
	InitTimeout time.Duration
	// SaveBackoff spaces out attempts to save the keys after a failure.
	SaveBackoff *backoff.Backoff
	// OnSaveFailure, if set, is called with the error of each failed save
	// (for the SaveFailed event).
	OnSaveFailure func(error)
	// LockWarnAfter is how long waiting for another process's data-dir lock
	// may last before it is reported as held too long.
	LockWarnAfter time.Duration
}

// Initialize initializes the Vault node v and returns the saved init data.
// Call it only when v has said it is not initialized.
//
// It leaves Vault untouched and returns an error when the keystore cannot be
// written, cannot be read, or already holds keys. Once Vault has answered, it
// does not return until the keys are saved and verified, or ctx ends; in that
// case it prints the keys to Emergency and returns ErrKeysUnsaved.
func (in *Initializer) Initialize(ctx context.Context, v Vault) (*keystore.InitData, error) {
	release, err := in.claim(ctx)
	if err != nil {
		return nil, err
	}
	sent := false // whether a sys/init request left this process
	defer func() { release(sent) }()
	// Under the lock, ask Vault again: another vault-init sharing the data
	// dir may have initialized it while this one waited. The same answer
	// tells the seal type.
	seal, err := v.SealStatusWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("read seal status: %w", err)
	}
	if seal.Initialized {
		return nil, ErrAlreadyInitialized
	}
	existing, err := in.Keys.Load()
	switch {
	case err == nil:
		return nil, fmt.Errorf("%w: %s holds %d keys from %s, but Vault is not initialized; "+
			"if that Vault's data is gone for good, move the keystore away (a file: to %s.bak; a Secret: back it up, then delete it) and restart vault-init",
			ErrKeystoreHoldsKeys, in.Keys.Path(), len(existing.Keys), existing.CreatedAt.Format(time.RFC3339), in.Keys.Path())
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("refusing to initialize: keystore cannot be read: %w", err)
	}
	if err := in.Keys.CheckWritable(); err != nil {
		return nil, fmt.Errorf("refusing to initialize: keystore %s is not writable: %w", in.Keys.Path(), err)
	}

	req := &api.InitRequest{SecretShares: in.Shares, SecretThreshold: in.Threshold}
	if seal.RecoverySeal {
		// An auto-unseal seal keeps the root key itself; Vault hands out
		// recovery keys instead of unseal keys.
		req = &api.InitRequest{RecoveryShares: in.RecoveryShares, RecoveryThreshold: in.RecoveryThreshold}
		in.Log.Info("initializing vault", zap.String("seal", seal.Type),
			zap.Int("recovery_shares", in.RecoveryShares), zap.Int("recovery_threshold", in.RecoveryThreshold))
	} else {
		in.Log.Info("initializing vault", zap.String("seal", seal.Type),
			zap.Int("secret_shares", in.Shares), zap.Int("secret_threshold", in.Threshold))
	}
	faultinject.Point("before-init")
	sent = true
	// Not ctx: a shutdown must not cut the one reply that carries the keys.
	initCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.InitTimeout)
	resp, err := v.InitWithContext(initCtx, req)
	cancel()
	if err != nil {
		if alreadyInitialized(err) {
			return nil, ErrAlreadyInitialized
		}
		return nil, fmt.Errorf("init vault: %w", err)
	}
	// From here until the keys are durable on disk, they exist only in
	// this process: nothing else runs in between.
	replyAt := time.Now()
	faultinject.Point("after-init-reply")
	data := &keystore.InitData{
		Version: keystore.FormatVersion, CreatedAt: replyAt.UTC(), VaultAddr: in.VaultAddr, SealType: seal.Type,
		SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold,
		Keys: resp.Keys, KeysB64: resp.KeysB64, RootToken: resp.RootToken,
		RecoveryShares: req.RecoveryShares, RecoveryThreshold: req.RecoveryThreshold,
		RecoveryKeys: resp.RecoveryKeys, RecoveryKeysB64: resp.RecoveryKeysB64,
	}
	if err := in.save(ctx, data, replyAt); err != nil {
		return nil, err
	}
	faultinject.Point("after-save")
	return data, nil
}

// claim takes the right to initialize. It waits for a data dir's lock,
// reporting a wait that lasts too long; a lasting claim of another
// vault-init is returned at once (an error matching keystore.ErrClaimed).
func (in *Initializer) claim(ctx context.Context) (func(bool), error) {
	start, warned := time.Now(), time.Time{}
	wait := backoff.New(100*time.Millisecond, time.Second)
	for {
		release, err := in.Keys.Claim(in.Holder)
		if err == nil {
			return release, nil
		}
		if errors.Is(err, keystore.ErrClaimed) && !errors.Is(err, keystore.ErrLocked) {
			return nil, err
		}
		if !errors.Is(err, keystore.ErrLocked) {
			return nil, fmt.Errorf("refusing to initialize: keystore %s is not writable, or cannot be reached, to claim the init: %w", in.Keys.Path(), err)
		}
		held := time.Since(start)
		switch {
		case warned.IsZero() && held < in.LockWarnAfter:
			in.Log.Debug("waiting for another vault-init to release the data dir lock")
		case time.Since(warned) >= in.LockWarnAfter:
			in.Log.Warn("another vault-init has held the data dir lock for too long; is it stuck saving keys? see its logs",
				zap.String("lock", filepath.Join(filepath.Dir(in.Keys.Path()), keystore.LockFileName)), zap.Duration("held", held.Round(time.Second)))
			warned = time.Now()
		}
		if err := backoff.Sleep(ctx, wait.Next()); err != nil {
			return nil, err
		}
	}
}

// save retries until the keys are on disk or ctx ends. The keys stay in
// memory the whole time; nothing here may drop them.
func (in *Initializer) save(ctx context.Context, data *keystore.InitData, replyAt time.Time) error {
	for attempt := 1; ; attempt++ {
		err := in.Keys.Save(data)
		if err == nil {
			// window: from Vault's reply to the keys being durable and read back.
			in.Log.Info("unseal keys and root token saved", zap.String("path", in.Keys.Path()),
				zap.Int("keys", len(data.Keys)), zap.Int("recovery_keys", len(data.RecoveryKeys)),
				zap.Int("attempts", attempt), zap.Duration("window", time.Since(replyAt)))
			return nil
		}
		if in.OnSaveFailure != nil {
			in.OnSaveFailure(err)
		}
		in.Log.Error("could not save the unseal keys; they are held in memory and the save will be retried",
			zap.String("path", in.Keys.Path()), zap.Int("attempt", attempt), zap.Error(err))
		if backoff.Sleep(ctx, in.SaveBackoff.Next()) != nil {
			in.Log.Error("stopping with unsaved keys; printing them once to stderr, the only copy left")
			if werr := banner.WriteEmergency(in.Emergency, in.Keys.Path(), data); werr != nil {
				return fmt.Errorf("%w (and printing them failed: %v)", ErrKeysUnsaved, werr)
			}
			return ErrKeysUnsaved
		}
	}
}

// alreadyInitialized recognises Vault's 400 reply to a second sys/init.
func alreadyInitialized(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, "already initialized") {
			return true
		}
	}
	return false
}
