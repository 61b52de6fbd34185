// Package rekey replaces the stored key shares with new ones: the unseal
// keys of a Shamir Vault (sys/rekey), or the recovery keys of an
// auto-unseal Vault (sys/rekey-recovery-key). It never loses access:
//
//   - every rekey requires verification, so Vault switches to the new keys
//     only when they are submitted back to it, and the new keys are saved
//     in the keystore (as keystore.Pending, read back) before that;
//   - the nonce of vault-init's rekey is recorded in the data dir, so that
//     one left in Vault by a crash is known as vault-init's and cancelled;
//     anyone else's is never cancelled (BusyError);
//   - a pending rekey left by a crash is settled first, by asking Vault
//     which keys it takes without changing them (a probe rekey that is
//     never verified).
//
// The whole run holds the keystore's lock, so that the watch loop's
// updates and a second rekey cannot interleave with it.
package rekey

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/keystore"
)

// Keystore is what a rekey needs of the keystore (*keystore.Keys). Save
// must return only once the data reads back equal.
type Keystore interface {
	Lock() (unlock func(), err error)
	Load() (*keystore.InitData, error)
	Save(d *keystore.InitData) error
	Path() string
}

// Nonces records the nonce of vault-init's own rekey across a crash
// (*keystore.File, in the data dir).
type Nonces interface {
	SaveRekeyNonce(nonce string) error
	LoadRekeyNonce() (string, error) // "" when there is none
	ClearRekeyNonce() error
}

// Options shape a rekey.
type Options struct {
	// Shares and Threshold are the new counts; 0 keeps the stored one.
	Shares, Threshold int
	// Node names the Vault node in logs and the result.
	Node string
	// Log is named "rekey" by Run; nil logs nothing.
	Log *zap.Logger
}

// Result says what a rekey did. It holds no secret.
type Result struct {
	Node                    string // Options.Node
	Keystore                string // where the new keys are (Keystore.Path)
	Recovery                bool   // the recovery keys were rekeyed
	OldShares, OldThreshold int
	Shares, Threshold       int
	Settled                 string        // what settling an interrupted rekey found, or ""
	Window                  time.Duration // Vault's last verify reply to the keystore holding the new keys
}

// String is what `vault-init rekey` prints for the operator: what settling
// an interrupted rekey found, if it did, on a line of its own, then the new
// counts and the keystore that holds the new keys.
func (r Result) String() string {
	what, settled := "unseal keys", ""
	if r.Recovery {
		what = "recovery keys"
	}
	if r.Settled != "" {
		settled = "first settled an interrupted rekey: " + r.Settled + "\n"
	}
	return fmt.Sprintf("%srekeyed the %s of %s: %d shares, threshold %d (were %d shares, threshold %d)\n"+
		"%s holds the new keys; the old ones no longer work",
		settled, what, r.Node, r.Shares, r.Threshold, r.OldShares, r.OldThreshold, r.Keystore)
}

// Timeouts. Verification and the save after it run to their own timeout,
// not the caller's context: a stop there would leave work for the next run.
const (
	VerifyTimeout = 30 * time.Second
	saveAttempts  = 3
)

// CountsError means that the requested counts are refused before Vault is
// asked (Vault would refuse them too).
type CountsError struct {
	Shares, Threshold int
	Reason            string
}

func (e *CountsError) Error() string {
	return fmt.Sprintf("rekey to %d shares with threshold %d: %s", e.Shares, e.Threshold, e.Reason)
}

// Counts returns the counts of a rekey of d's keys: shares and threshold,
// the stored ones where 0. It returns a *CountsError for counts Vault
// refuses.
func Counts(d *keystore.InitData, shares, threshold int) (int, int, error) {
	oldShares, oldThreshold := stored(d)
	if shares == 0 {
		shares = oldShares
	}
	if threshold == 0 {
		threshold = oldThreshold
	}
	reason := ""
	switch {
	case shares < 1 || shares > 255:
		reason = "shares must be 1 to 255"
	case threshold < 1:
		reason = "the threshold must be at least 1"
	case threshold > shares:
		reason = "the threshold is greater than the number of shares"
	case threshold == 1 && shares > 1:
		reason = "a threshold of 1 needs exactly 1 share (Vault refuses more)"
	}
	if reason != "" {
		return 0, 0, &CountsError{Shares: shares, Threshold: threshold, Reason: reason}
	}
	return shares, threshold, nil
}

// stored returns the counts of d's current keys: the recovery keys of an
// auto-unseal Vault, else the unseal keys.
func stored(d *keystore.InitData) (shares, threshold int) {
	if d.AutoUnseal() {
		return d.RecoveryShares, d.RecoveryThreshold
	}
	return d.SecretShares, d.SecretThreshold
}

// storedKeys returns d's recovery keys (recovery) or unseal keys.
func storedKeys(d *keystore.InitData, recovery bool) []string {
	if recovery {
		return d.RecoveryKeys
	}
	return d.Keys
}

// BusyError means that someone else's rekey is in progress. vault-init
// never cancels it: an operator may be half-way through it.
type BusyError struct {
	Recovery           bool
	Progress, Required int
	Verifying          bool // its new keys exist and await verification
}

func (e *BusyError) Error() string {
	what, flag := "unseal keys", ""
	if e.Recovery {
		what, flag = "recovery keys", " -target=recovery"
	}
	state := fmt.Sprintf("%d of %d shares entered", e.Progress, e.Required)
	if e.Verifying {
		state = "its new keys await verification"
	}
	return fmt.Sprintf("someone else's rekey of the %s is in progress (%s); vault-init never cancels it. "+
		"Finish it, or cancel it with `vault operator rekey%s -cancel`, then run `vault-init rekey` again", what, state, flag)
}

// run is one rekey under the keystore's lock.
type run struct {
	sys    Sys
	keys   Keystore
	nonces Nonces
	log    *zap.Logger
	data   *keystore.InitData // the keystore as last saved or read
}

// Run rekeys the Vault that sys talks to (it must be unsealed and active)
// and saves the new keys in keys, settling first any rekey that a crash
// left pending. See the package doc for why no step can lose access.
func Run(ctx context.Context, sys Sys, keys Keystore, nonces Nonces, opts Options) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("rekey")
	unlock, err := keystore.LockWithin(ctx, keys.Lock, keystore.DefaultLockWait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	data, err := keys.Load()
	if err != nil {
		return nil, fmt.Errorf("read keystore: %w", err)
	}
	if err := data.Validate(); err != nil {
		return nil, fmt.Errorf("keystore %s: %w", keys.Path(), err)
	}
	res := &Result{Node: opts.Node, Keystore: keys.Path(), Recovery: data.AutoUnseal()}
	res.OldShares, res.OldThreshold = stored(data)
	if res.Shares, res.Threshold, err = Counts(data, opts.Shares, opts.Threshold); err != nil {
		return nil, err
	}
	r := &run{sys: sys, keys: keys, nonces: nonces, log: log, data: data}
	t := target{sys: sys, recovery: res.Recovery}
	log.Info("rekey plan", zap.String("node", opts.Node), zap.String("of", t.keysName()),
		zap.Int("old_shares", res.OldShares), zap.Int("old_threshold", res.OldThreshold),
		zap.Int("shares", res.Shares), zap.Int("threshold", res.Threshold), zap.Bool("interrupted_rekey", data.Pending != nil))
	mine, err := nonces.LoadRekeyNonce()
	if err != nil {
		return nil, err
	}
	if data.Pending != nil {
		if res.Settled, err = r.settle(ctx, mine); err != nil {
			return nil, err
		}
		// The stored counts are the settled keys' now.
		res.OldShares, res.OldThreshold = stored(r.data)
		if res.Shares, res.Threshold, err = Counts(r.data, opts.Shares, opts.Threshold); err != nil {
			return nil, err
		}
		log.Info("rekey plan, with the interrupted rekey settled", zap.Int("old_shares", res.OldShares),
			zap.Int("old_threshold", res.OldThreshold), zap.Int("shares", res.Shares), zap.Int("threshold", res.Threshold))
	}
	if err := r.clearWay(ctx, t, mine); err != nil {
		return nil, err
	}
	if res.Window, err = r.rekey(ctx, t, res.Shares, res.Threshold); err != nil {
		return nil, err
	}
	return res, nil
}

// clearWay makes sure that no rekey is in progress: one of vault-init's
// own (its nonce recorded as mine) is cancelled, anyone else's is a
// *BusyError.
func (r *run) clearWay(ctx context.Context, t target, mine string) error {
	st, err := t.status(ctx)
	if err != nil {
		return fmt.Errorf("rekey status: %w", clean(err))
	}
	if !st.Started {
		return nil
	}
	if mine == "" || st.Nonce != mine {
		return &BusyError{Recovery: t.recovery, Progress: st.Progress, Required: st.Required, Verifying: st.VerificationNonce != ""}
	}
	r.log.Info("cancelling vault-init's own unfinished rekey, left by a vault-init that stopped; its new keys were never used",
		zap.String("nonce", st.Nonce))
	if err := t.cancel(ctx, st.Nonce); err != nil {
		return fmt.Errorf("cancel vault-init's own unfinished rekey: %w", clean(err))
	}
	return nil
}
