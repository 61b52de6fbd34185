package rekey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/faultinject"
	"github.com/aurora/vault-init/internal/keystore"
)

// rekey runs one rekey from init to the keystore holding the new keys, and
// returns the window from Vault's last verify reply to that save.
func (r *run) rekey(ctx context.Context, t target, shares, threshold int) (time.Duration, error) {
	st, err := t.start(ctx, shares, threshold)
	if err != nil {
		return 0, fmt.Errorf("start rekey: %w", clean(err))
	}
	if st.Nonce == "" {
		return 0, errors.New("start rekey: vault returned no nonce")
	}
	nonce := st.Nonce
	if err := r.nonces.SaveRekeyNonce(nonce); err != nil {
		// Without the record, a crash would leave a rekey that looks like
		// an operator's. Give it up now, while it is known to be ours.
		r.giveUp(ctx, t, nonce)
		return 0, fmt.Errorf("record rekey nonce: %w", err)
	}
	r.log.Info("rekey started; submitting the stored keys", zap.String("of", t.keysName()), zap.String("nonce", nonce))
	faultinject.Point("rekey-after-init")

	old := storedKeys(r.data, t.recovery)
	up, err := r.submit(ctx, t, old, nonce)
	if err != nil {
		r.giveUp(ctx, t, nonce)
		return 0, err
	}
	if len(up.Keys) != shares || (len(up.KeysB64) != 0 && len(up.KeysB64) != shares) {
		r.giveUp(ctx, t, nonce)
		return 0, fmt.Errorf("rekey: vault returned %d new keys, want %d", len(up.Keys), shares)
	}
	r.log.Info("vault returned the new keys; saving them in the keystore as pending before verifying them", zap.Int("keys", len(up.Keys)))
	faultinject.Point("rekey-after-update")

	next := r.data.Clone()
	next.Pending = &keystore.Pending{Kind: keystore.PendingRekey, StartedAt: time.Now().UTC(), Nonce: nonce,
		Recovery: t.recovery, Shares: shares, Threshold: threshold, Keys: up.Keys, KeysB64: up.KeysB64}
	if !up.VerificationRequired {
		// Vault took the keys with this reply (it ignored the request
		// for verification): they are its keys now.
		r.log.Warn("vault took the new keys without verification; saving them at once")
		return r.finish(ctx, next, time.Now())
	}
	if err := r.keys.Save(next); err != nil {
		r.giveUp(ctx, t, nonce)
		return 0, fmt.Errorf("save the new keys as pending (the rekey was cancelled; the stored keys stay Vault's): %w", err)
	}
	r.data = next
	r.log.Info("new keys saved as pending; verifying them", zap.String("path", r.keys.Path()))
	faultinject.Point("rekey-after-pending")

	// From here on the work is finished whatever the caller's context:
	// a stop would leave a rekey to settle.
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), VerifyTimeout)
	defer cancel()
	if err := r.verify(vctx, t, next.Pending.Keys, up.VerificationNonce); err != nil {
		return 0, err
	}
	verified := time.Now()
	r.log.Info("vault verified the new keys and uses them now; the old keys no longer work")
	faultinject.Point("rekey-after-verify")
	return r.finish(vctx, next, verified)
}

// submit sends the stored keys to the rekey until it completes, and
// returns the completing reply (the new keys).
func (r *run) submit(ctx context.Context, t target, old []string, nonce string) (*api.RekeyUpdateResponse, error) {
	for i, k := range old {
		up, err := t.update(ctx, k, nonce)
		if err != nil {
			return nil, fmt.Errorf("rekey: submit stored key at index %d: %w", i, clean(err, old))
		}
		if i == 0 {
			faultinject.Point("rekey-mid-update")
		}
		if up.Complete {
			return up, nil
		}
	}
	return nil, fmt.Errorf("rekey: all %d stored keys submitted and the rekey is not complete: they are not this Vault's", len(old))
}

// verify submits the new keys to the verification until it completes.
func (r *run) verify(ctx context.Context, t target, keys []string, nonce string) error {
	if nonce == "" {
		return errors.New("verify the new keys: vault returned no verification nonce")
	}
	for i, k := range keys {
		v, err := t.verify(ctx, k, nonce)
		if err != nil {
			return fmt.Errorf("verify new key at index %d (the keystore keeps both sets until settled): %w",
				i, clean(err, keys, storedKeys(r.data, t.recovery)))
		}
		if i == 0 {
			faultinject.Point("rekey-mid-verify")
		}
		if v.Complete {
			return nil
		}
	}
	return fmt.Errorf("verify: all %d new keys submitted and the verification is not complete", len(keys))
}

// finish saves d with its pending rekey completed (Vault took it at
// verified), trying again a few times: until it is saved, the keystore
// holds the new keys only as pending (which still unseal), and the record
// of the nonce stays.
func (r *run) finish(ctx context.Context, d *keystore.InitData, verified time.Time) (time.Duration, error) {
	done := d.Completed()
	var err error
	for attempt := 1; attempt <= saveAttempts; attempt++ {
		if err = r.keys.Save(done); err == nil {
			break
		}
		r.log.Warn("could not save the completed rekey; trying again", zap.Int("attempt", attempt), zap.Error(err))
		_ = backoff.Sleep(ctx, time.Duration(attempt)*500*time.Millisecond) // an ended ctx ends the pause, not the attempts
		// Someone may have written the keystore in between (the watch
		// loop's bookkeeping; a Secret's write is a compare-and-swap
		// against what this handle read last): start again from what is
		// stored now, with the verified keys put back whatever it says.
		if cur, lerr := r.keys.Load(); lerr == nil && cur.CreatedAt.Equal(d.CreatedAt) {
			redo := cur.Clone()
			redo.Pending = d.Pending
			done = redo.Completed()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("save the new keys (Vault uses them; the keystore holds them as pending, which the next unseal or rekey settles): %w", err)
	}
	window := time.Since(verified)
	r.data = done
	r.log.Info("the keystore holds the new keys", zap.String("path", r.keys.Path()), zap.Duration("rekey_window", window))
	if err := r.nonces.ClearRekeyNonce(); err != nil {
		r.log.Warn("could not remove the rekey nonce record; it names no rekey now and is harmless", zap.Error(err))
	}
	faultinject.Point("rekey-after-settle")
	return window, nil
}

// giveUp cancels vault-init's own rekey after a failure before its keys
// were verified (the stored keys stay Vault's), and drops the record.
func (r *run) giveUp(ctx context.Context, t target, nonce string) {
	if err := t.cancel(context.WithoutCancel(ctx), nonce); err != nil {
		r.log.Warn("could not cancel vault-init's own rekey; the next `vault-init rekey` cancels it", zap.Error(clean(err)))
		return
	}
	if err := r.nonces.ClearRekeyNonce(); err != nil {
		r.log.Warn("could not remove the rekey nonce record", zap.Error(err))
	}
}
