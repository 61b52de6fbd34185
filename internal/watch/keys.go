package watch

import (
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/keystore"
)

// The Watcher's hold on the keys: the keystore file, and the copy in memory
// that outlives the file.

// haveKeys reports whether vault-init holds keys (in memory or on disk).
func (w *Watcher) haveKeys() bool {
	w.mu.Lock()
	mem := w.data != nil
	w.mu.Unlock()
	if mem {
		return true
	}
	_, err := w.keys.Load()
	return err == nil
}

// loadKeys reads the keystore, falling back to the copy in memory when the
// file has gone away while vault-init runs.
func (w *Watcher) loadKeys() (*keystore.InitData, error) {
	data, _, err := w.resolveKeys()
	return data, err
}

// resolveKeys reads the keystore and decides which keys to use: those
// stored, or the copy in memory when the stored ones vanished or are other
// keys (each logged). otherStored says that the keystore holds other keys,
// which no write may go over.
func (w *Watcher) resolveKeys() (data *keystore.InitData, otherStored bool, err error) {
	data, err = w.keys.Load()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil && w.data != nil && !sameKeys(w.data, data):
		w.log.Error("the keystore now holds other keys than the ones vault-init unsealed with: it was replaced, perhaps by an init of another Vault after it vanished. "+
			"Unsealing with the copy in memory, and writing nothing; put the right keystore back, then restart vault-init",
			zap.String("path", w.keys.Path()), zap.Time("held_created_at", w.data.CreatedAt), zap.Time("stored_created_at", data.CreatedAt))
		return w.data, true, nil
	case err == nil:
		w.data = data
		w.checkMode()
		w.checkStore()
		return data, false, nil
	case errors.Is(err, keystore.ErrNotFound) && w.data != nil:
		w.log.Error("keystore has disappeared; unsealing with the copy in memory. Restore it from a backup or run `vault-init status` to see what is wrong",
			zap.String("path", w.keys.Path()))
		return w.data, false, nil
	case errors.Is(err, keystore.ErrNotFound):
		return nil, false, fmt.Errorf("vault is initialized, but %s does not exist: it was initialized by someone else. "+
			"Unseal it by hand, or put that Vault's keystore at that path; vault-init changes nothing until then", w.keys.Path())
	}
	return nil, false, err
}

// checkMode warns, once per mode seen, when others may read the keystore.
// It does not refuse to unseal: the exposure has already happened, and
// leaving Vault sealed would add an outage to it. Call with w.mu held.
func (w *Watcher) checkMode() {
	if w.keys != w.local.Keys {
		return // not a file: the store's own access control applies
	}
	mode, err := w.local.Mode()
	if err != nil || mode&0o077 == 0 || mode == w.warnedMode {
		return
	}
	w.warnedMode = mode
	w.log.Warn("the keystore is readable by others; whoever reads it holds root on this Vault. Fix: chmod 600 it, and consider rotating the keys (vault operator rekey)",
		zap.String("path", w.keys.Path()), zap.String("mode", fmt.Sprintf("%04o", mode)))
}

// checkStore warns, once per warning, of what the store says puts the keys
// at risk (a keys Secret that garbage collection could delete). Call with
// w.mu held.
func (w *Watcher) checkStore() {
	for _, msg := range w.keys.Risks() {
		if w.warnedStore[msg] {
			continue
		}
		if w.warnedStore == nil {
			w.warnedStore = map[string]bool{}
		}
		w.warnedStore[msg] = true
		w.log.Warn("the keystore is at risk", zap.String("path", w.keys.Path()), zap.String("warning", msg))
	}
}

// updateKeys changes the keystore through change and saves it, under the
// data dir's lock. The copy in memory follows.
func (w *Watcher) updateKeys(change func(*keystore.InitData)) error {
	unlock, err := w.keys.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	data, otherStored, err := w.resolveKeys()
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
	if err := w.keys.Save(next); err != nil {
		w.opts.Metrics.SaveFailed()
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.data = next
	return nil
}

// sameKeys reports whether a and b are the keys of one init: what the
// keystore may change (the root token revoked, accessors to revoke) aside.
func sameKeys(a, b *keystore.InitData) bool {
	return a.CreatedAt.Equal(b.CreatedAt) && slices.Equal(a.Keys, b.Keys) && slices.Equal(a.RecoveryKeys, b.RecoveryKeys)
}
