package rekey

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/faultinject"
	"github.com/aurora/vault-init/internal/keystore"
)

// settle decides a rekey that a crash left pending in the keystore, with
// Vault unsealed, and saves the keystore with it completed (Vault uses the
// new keys) or abandoned (Vault still uses the stored ones). It returns
// what it found, for the summary.
func (r *run) settle(ctx context.Context, mine string) (string, error) {
	p := r.data.Pending
	if p.Kind != keystore.PendingRekey {
		return "", fmt.Errorf("a %s is under way in the keystore: finish it with `vault-init migrate` first", p.Kind)
	}
	t := target{sys: r.sys, recovery: p.Recovery}
	st, err := t.status(ctx)
	if err != nil {
		return "", fmt.Errorf("rekey status: %w", clean(err))
	}
	if st.Started && st.Nonce != p.Nonce && st.Nonce == mine {
		// A probe of a settle that a crash cut short: never verified.
		r.log.Info("cancelling vault-init's own leftover probe rekey")
		if err := t.cancel(ctx, st.Nonce); err != nil {
			return "", fmt.Errorf("cancel vault-init's own leftover probe rekey: %w", clean(err))
		}
		st.Started = false
	}
	switch {
	case st.Started && st.Nonce == p.Nonce && st.VerificationNonce != "":
		r.log.Info("an interrupted rekey of vault-init awaits verification in Vault; finishing it with its saved new keys")
		if err := r.finishVerify(ctx, t, p.Keys); err != nil {
			return "", err
		}
		return "finished the verification of an interrupted rekey", r.save(r.data.Completed(), "completed")
	case st.Started && st.Nonce == p.Nonce:
		// Not reached in practice (the keys are saved only after Vault
		// returned them), but certain: unverified keys were never used.
		if err := t.cancel(ctx, p.Nonce); err != nil {
			return "", fmt.Errorf("cancel the interrupted rekey: %w", clean(err))
		}
		return "cancelled an interrupted rekey that had not produced its keys", r.save(r.data.Abandoned(), "abandoned")
	case st.Started:
		return "", &BusyError{Recovery: t.recovery, Progress: st.Progress, Required: st.Required, Verifying: st.VerificationNonce != ""}
	}
	// No rekey in Vault: it ended with the crash (verified or not) or with
	// a restart of Vault. Ask Vault which set it takes.
	r.log.Info("a rekey was interrupted; probing which keys Vault takes (a rekey that is never verified, then cancelled)")
	old := storedKeys(r.data, p.Recovery)
	if ok, err := r.takes(ctx, t, old); err != nil {
		return "", err
	} else if ok {
		return "the interrupted rekey never took effect; its new keys were dropped", r.save(r.data.Abandoned(), "abandoned")
	}
	if ok, err := r.takes(ctx, t, p.Keys); err != nil {
		return "", err
	} else if ok {
		return "the interrupted rekey had taken effect; its new keys replace the old ones", r.save(r.data.Completed(), "completed")
	}
	return "", errors.New("neither the stored keys nor the interrupted rekey's new keys are Vault's: the keystore is left as it is")
}

// finishVerify completes the verification of vault-init's own rekey with
// its new keys, from no progress (a crash may have left some).
func (r *run) finishVerify(ctx context.Context, t target, keys []string) error {
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), VerifyTimeout)
	defer cancel()
	vs, err := t.verifyStatus(vctx)
	if err != nil {
		return fmt.Errorf("rekey verification status: %w", clean(err))
	}
	if vs.Progress > 0 {
		if err := t.restartVerify(vctx); err != nil {
			return fmt.Errorf("restart the rekey verification: %w", clean(err))
		}
		if vs, err = t.verifyStatus(vctx); err != nil {
			return fmt.Errorf("rekey verification status: %w", clean(err))
		}
	}
	return r.verify(vctx, t, keys, vs.Nonce)
}

// save saves d as the keystore's settled state.
func (r *run) save(d *keystore.InitData, how string) error {
	if err := r.keys.Save(d); err != nil {
		return fmt.Errorf("save the settled rekey (%s): %w", how, err)
	}
	r.data = d
	r.log.Info("settled the interrupted rekey", zap.String("as", how), zap.String("path", r.keys.Path()))
	return nil
}

// takes reports whether Vault's current keys are set, without changing
// them: it starts a probe rekey (to 1 share, requiring verification),
// submits set, and cancels the probe whatever happened. A probe that
// completes proves the set; one that Vault refuses at its threshold (and
// resets to no progress), or a set smaller than the threshold, disproves
// it. Anything else is an error. The probe's nonce is recorded while it
// runs, so that a crash leaves it known as vault-init's.
func (r *run) takes(ctx context.Context, t target, set []string) (bool, error) {
	st, err := t.start(ctx, 1, 1)
	if err != nil {
		return false, fmt.Errorf("start probe rekey: %w", clean(err))
	}
	nonce := st.Nonce
	if err := r.nonces.SaveRekeyNonce(nonce); err != nil {
		r.giveUp(ctx, t, nonce)
		return false, fmt.Errorf("record probe rekey nonce: %w", err)
	}
	defer r.giveUp(ctx, t, nonce)
	for i, k := range set {
		if i == 1 {
			faultinject.Point("rekey-mid-probe")
		}
		up, err := t.update(ctx, k, nonce)
		if err != nil {
			var re *api.ResponseError
			if errors.As(err, &re) {
				// Vault refuses a wrong set at its threshold (400 or 500,
				// depending on the seal) and starts the rekey over.
				if st, serr := t.status(ctx); serr == nil && st.Started && st.Nonce == nonce && st.Progress == 0 {
					return false, nil
				}
			}
			return false, fmt.Errorf("probe rekey: key at index %d: %w", i, clean(err, set))
		}
		if up.Complete {
			return true, nil
		}
	}
	return false, nil
}
