// Package keyring is vault-init's hold on the keys while it runs: the
// keystore, and the copy in memory that outlives it. The watch loop unseals
// with what it loads; setup records root-token revocations through Update.
// It never lets a write go over other keys than the ones it holds.
package keyring

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
)

// Ring holds the keys. It is safe for concurrent use (one goroutine per
// node uses it).
type Ring struct {
	keys   *keystore.Keys // the keystore: the data dir's, or a Kubernetes Secret
	local  *keystore.File // the data dir: only a file keystore's mode is checked
	log    *zap.Logger
	events *events.Emitter // SaveFailed

	mu          sync.Mutex
	data        *keystore.InitData // the keys last read or saved, for when the keystore vanishes
	warnedMode  fs.FileMode        // the keystore mode last warned about
	warnedStore map[string]bool    // the store's warnings already logged
}

// New returns a Ring over keys; local is the data dir (its mode is checked
// when keys is the data dir's own keystore). em receives SaveFailed.
func New(keys *keystore.Keys, local *keystore.File, log *zap.Logger, em *events.Emitter) *Ring {
	return &Ring{keys: keys, local: local, log: log, events: em}
}

// Path says where the keystore is (for messages).
func (r *Ring) Path() string { return r.keys.Path() }

// Have reports whether vault-init holds keys (in memory or stored).
func (r *Ring) Have() bool {
	if r.Holding() {
		return true
	}
	_, err := r.keys.Load()
	return err == nil
}

// Holding reports whether keys are held in memory: read, saved or made by
// an init in this run.
func (r *Ring) Holding() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data != nil
}

// Hold records the keys of an init this run made (and saved).
func (r *Ring) Hold(d *keystore.InitData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data = d
}

// Load reads the keystore, falling back to the copy in memory when the
// keystore has gone away, or holds other keys, while vault-init runs.
func (r *Ring) Load() (*keystore.InitData, error) {
	data, _, err := r.resolve()
	return data, err
}

// resolve reads the keystore and decides which keys to use: those stored,
// or the copy in memory when the stored ones vanished or are other keys
// (each logged). otherStored says that the keystore holds other keys,
// which no write may go over.
func (r *Ring) resolve() (data *keystore.InitData, otherStored bool, err error) {
	data, err = r.keys.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil && r.data != nil && !sameKeys(r.data, data):
		r.log.Error("the keystore now holds other keys than the ones vault-init unsealed with: it was replaced, perhaps by an init of another Vault after it vanished. "+
			"Unsealing with the copy in memory, and writing nothing; put the right keystore back, then restart vault-init",
			zap.String("path", r.keys.Path()), zap.Time("held_created_at", r.data.CreatedAt), zap.Time("stored_created_at", data.CreatedAt))
		return r.data, true, nil
	case err == nil:
		r.data = data
		r.checkMode()
		r.checkStore()
		return data, false, nil
	case errors.Is(err, keystore.ErrNotFound) && r.data != nil:
		r.log.Error("keystore has disappeared; unsealing with the copy in memory. Restore it from a backup or run `vault-init status` to see what is wrong",
			zap.String("path", r.keys.Path()))
		return r.data, false, nil
	case errors.Is(err, keystore.ErrNotFound):
		return nil, false, fmt.Errorf("vault is initialized, but %s does not exist: it was initialized by someone else. "+
			"Unseal it by hand, or put that Vault's keystore at that path; vault-init changes nothing until then", r.keys.Path())
	}
	return nil, false, err
}

// checkMode warns, once per mode seen, when others may read the keystore.
// It does not refuse to unseal: the exposure has already happened, and
// leaving Vault sealed would add an outage to it. Call with r.mu held.
func (r *Ring) checkMode() {
	if r.keys != r.local.Keys {
		return // not a file: the store's own access control applies
	}
	mode, err := r.local.Mode()
	if err != nil || mode&0o077 == 0 || mode == r.warnedMode {
		return
	}
	r.warnedMode = mode
	r.log.Warn("the keystore is readable by others; whoever reads it holds root on this Vault. Fix: chmod 600 it, and consider rotating the keys (vault operator rekey)",
		zap.String("path", r.keys.Path()), zap.String("mode", fmt.Sprintf("%04o", mode)))
}

// checkStore warns, once per warning, of what the store says puts the keys
// at risk (a keys Secret that garbage collection could delete). Call with
// r.mu held.
func (r *Ring) checkStore() {
	for _, msg := range r.keys.Risks() {
		if r.warnedStore[msg] {
			continue
		}
		if r.warnedStore == nil {
			r.warnedStore = map[string]bool{}
		}
		r.warnedStore[msg] = true
		r.log.Warn("the keystore is at risk", zap.String("path", r.keys.Path()), zap.String("warning", msg))
	}
}

// Update changes the keystore through change and saves it, under the
// keystore's lock. The copy in memory follows. A failed save is reported
// as a SaveFailed event.
func (r *Ring) Update(change func(*keystore.InitData)) error {
	unlock, err := r.keys.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	data, otherStored, err := r.resolve()
	if err != nil {
		return err
	}
	if otherStored {
		// (A keystore that vanished is written back from memory.)
		return errors.New("the keystore holds other keys than the ones in memory: refusing to write over them")
	}
	next := data.Clone()
	change(next)
	if next.Equal(data) {
		return nil
	}
	if err := r.keys.Save(next); err != nil {
		r.events.Emit(events.Event{Kind: events.SaveFailed, Error: err.Error()})
		return err
	}
	r.Hold(next)
	return nil
}

// LoadAppToken reads the saved app token (keystore.ErrNotFound when none).
func (r *Ring) LoadAppToken() (string, error) { return r.keys.LoadAppToken() }

// SaveAppToken saves the app token.
func (r *Ring) SaveAppToken(token string) error { return r.keys.SaveAppToken(token) }

// AppTokenPath says where the app token is kept (for messages).
func (r *Ring) AppTokenPath() string { return r.keys.AppTokenPath() }

// sameKeys reports whether the stored b may replace the held a: the keys of
// one init, as held or newer. A rekey or a seal migration (`vault-init
// rekey`, `vault-init migrate`, in another process) changes the shares of
// the same init and counts a generation, and the loop must then use the
// stored ones, or it would unseal a restarted Vault with shares it no
// longer takes; an older generation, or other shares of the same one, is
// a copy put back (a backup from before a rekey), which is not.
func sameKeys(a, b *keystore.InitData) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || a.VaultAddr != b.VaultAddr {
		return false
	}
	return b.Generation > a.Generation ||
		(b.Generation == a.Generation && slices.Equal(a.Keys, b.Keys) && slices.Equal(a.RecoveryKeys, b.RecoveryKeys))
}
