package rekey

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Sys is the part of *api.Sys that a rekey uses: sys/rekey for the unseal
// keys of a Shamir Vault, sys/rekey-recovery-key for the recovery keys of
// an auto-unseal Vault. None of these calls needs a token. Non-2xx replies
// must be *api.ResponseError values.
type Sys interface {
	RekeyStatusWithContext(ctx context.Context) (*api.RekeyStatusResponse, error)
	RekeyInitWithContext(ctx context.Context, config *api.RekeyInitRequest) (*api.RekeyStatusResponse, error)
	RekeyUpdateWithContext(ctx context.Context, shard, nonce string) (*api.RekeyUpdateResponse, error)
	RekeyCancelWithContextWithNonce(ctx context.Context, nonce string) error
	RekeyVerificationStatusWithContext(ctx context.Context) (*api.RekeyVerificationStatusResponse, error)
	RekeyVerificationUpdateWithContext(ctx context.Context, shard, nonce string) (*api.RekeyVerificationUpdateResponse, error)
	RekeyVerificationCancelWithContext(ctx context.Context) error

	RekeyRecoveryKeyStatusWithContext(ctx context.Context) (*api.RekeyStatusResponse, error)
	RekeyRecoveryKeyInitWithContext(ctx context.Context, config *api.RekeyInitRequest) (*api.RekeyStatusResponse, error)
	RekeyRecoveryKeyUpdateWithContext(ctx context.Context, shard, nonce string) (*api.RekeyUpdateResponse, error)
	RekeyRecoveryKeyCancelWithContextWithNonce(ctx context.Context, nonce string) error
	RekeyRecoveryKeyVerificationStatusWithContext(ctx context.Context) (*api.RekeyVerificationStatusResponse, error)
	RekeyRecoveryKeyVerificationUpdateWithContext(ctx context.Context, shard, nonce string) (*api.RekeyVerificationUpdateResponse, error)
	RekeyRecoveryKeyVerificationCancelWithContext(ctx context.Context) error
}

// target is one kind of rekey: of the unseal keys, or of the recovery keys.
type target struct {
	sys      Sys
	recovery bool
}

func (t target) status(ctx context.Context) (*api.RekeyStatusResponse, error) {
	if t.recovery {
		return t.sys.RekeyRecoveryKeyStatusWithContext(ctx)
	}
	return t.sys.RekeyStatusWithContext(ctx)
}

// start begins a rekey that requires verification, and refuses (cancels
// it before any key is sent) one that Vault started without: Vault would
// then switch to the new keys in the reply to the last stored key, and a
// reply lost there would lose every key.
func (t target) start(ctx context.Context, shares, threshold int) (*api.RekeyStatusResponse, error) {
	req := &api.RekeyInitRequest{SecretShares: shares, SecretThreshold: threshold, RequireVerification: true}
	var st *api.RekeyStatusResponse
	var err error
	if t.recovery {
		st, err = t.sys.RekeyRecoveryKeyInitWithContext(ctx, req)
	} else {
		st, err = t.sys.RekeyInitWithContext(ctx, req)
	}
	if err == nil && !st.VerificationRequired {
		if st.Nonce != "" {
			_ = t.cancel(context.WithoutCancel(ctx), st.Nonce)
		}
		return nil, errors.New("vault started the rekey without the verification vault-init asked for; cancelled it before sending any key")
	}
	return st, err
}

func (t target) update(ctx context.Context, key, nonce string) (*api.RekeyUpdateResponse, error) {
	if t.recovery {
		return t.sys.RekeyRecoveryKeyUpdateWithContext(ctx, key, nonce)
	}
	return t.sys.RekeyUpdateWithContext(ctx, key, nonce)
}

func (t target) cancel(ctx context.Context, nonce string) error {
	if t.recovery {
		return t.sys.RekeyRecoveryKeyCancelWithContextWithNonce(ctx, nonce)
	}
	return t.sys.RekeyCancelWithContextWithNonce(ctx, nonce)
}

func (t target) verifyStatus(ctx context.Context) (*api.RekeyVerificationStatusResponse, error) {
	if t.recovery {
		return t.sys.RekeyRecoveryKeyVerificationStatusWithContext(ctx)
	}
	return t.sys.RekeyVerificationStatusWithContext(ctx)
}

func (t target) verify(ctx context.Context, key, nonce string) (*api.RekeyVerificationUpdateResponse, error) {
	if t.recovery {
		return t.sys.RekeyRecoveryKeyVerificationUpdateWithContext(ctx, key, nonce)
	}
	return t.sys.RekeyVerificationUpdateWithContext(ctx, key, nonce)
}

// restartVerify throws away the progress of a verification (not the rekey
// under it) and gives it a new nonce.
func (t target) restartVerify(ctx context.Context) error {
	if t.recovery {
		return t.sys.RekeyRecoveryKeyVerificationCancelWithContext(ctx)
	}
	return t.sys.RekeyVerificationCancelWithContext(ctx)
}

// keysName names the keys of the target in messages.
func (t target) keysName() string {
	if t.recovery {
		return "recovery keys"
	}
	return "unseal keys"
}

// nonceRE matches a nonce (a UUID) in Vault's error text: a wrong-nonce
// reply names the nonce of the rekey in progress, perhaps someone else's.
var nonceRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// clean returns err with any of secrets (key shares), and any nonce, cut
// out of its message. Vault does not echo keys today; this makes sure
// that a future message cannot leak one. A *api.ResponseError stays one
// (with its status code), so that callers can still match it.
func clean(err error, secrets ...[]string) error {
	if err == nil {
		return nil
	}
	redact := func(msg string) string {
		msg = nonceRE.ReplaceAllString(msg, "[nonce]")
		for _, set := range secrets {
			for _, s := range set {
				if s != "" {
					msg = strings.ReplaceAll(msg, s, "[redacted]")
				}
			}
		}
		return msg
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		c := *re
		c.Errors = make([]string, len(re.Errors))
		for i, e := range re.Errors {
			c.Errors[i] = redact(e)
		}
		return &c
	}
	if msg := redact(err.Error()); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
