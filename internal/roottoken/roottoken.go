// Package roottoken makes a root token from the stored unseal (or recovery)
// keys through sys/generate-root, for when vault-init has revoked its own.
// It never cancels an attempt that someone else started: an operator may be
// half-way through entering their shares.
package roottoken

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/api"
)

// Vault is the part of *api.Sys that generating a root token uses.
type Vault interface {
	GenerateRootStatusWithContext(ctx context.Context) (*api.GenerateRootStatusResponse, error)
	GenerateRootInitWithContext(ctx context.Context, otp, pgpKey string) (*api.GenerateRootStatusResponse, error)
	GenerateRootUpdateWithContext(ctx context.Context, shard, nonce string) (*api.GenerateRootStatusResponse, error)
	GenerateRootCancelWithContext(ctx context.Context) error
}

// Nonces remembers the nonce of vault-init's own attempt across a crash, so
// that an attempt left behind by a killed vault-init is known as its own
// (and may be cancelled) while anyone else's never is.
type Nonces interface {
	SaveNonce(nonce string) error
	LoadNonce() (string, error) // "" when there is none
	ClearNonce() error
}

// UpdateTimeout bounds the key submissions of one attempt.
const UpdateTimeout = 30 * time.Second

// BusyError means that someone else's generate-root attempt is in progress.
// vault-init waits for it to finish or be cancelled; it never cancels it.
type BusyError struct {
	Progress, Required int
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("someone else's generate-root attempt is in progress (%d of %d shares entered); "+
		"vault-init waits and never cancels it. Finish it, or cancel it with `vault operator generate-root -cancel`", e.Progress, e.Required)
}

// Generate runs a whole generate-root attempt with keys and returns the new
// root token. The OTP is Vault's own (Vault 1.10 and later make one when
// asked for none); the token comes back xor-ed with it.
func Generate(ctx context.Context, v Vault, nonces Nonces, keys []string) (string, error) {
	st, err := v.GenerateRootStatusWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("generate-root status: %w", err)
	}
	if st.Started {
		mine, err := nonces.LoadNonce()
		if err != nil {
			return "", err
		}
		if mine == "" || mine != st.Nonce {
			return "", &BusyError{Progress: st.Progress, Required: st.Required}
		}
		// A vault-init that was stopped mid-attempt left it: it is ours,
		// and its OTP is gone with that process.
		if err := v.GenerateRootCancelWithContext(ctx); err != nil {
			return "", fmt.Errorf("cancel vault-init's own unfinished generate-root attempt: %w", err)
		}
	}
	st, err = v.GenerateRootInitWithContext(ctx, "", "")
	if err != nil {
		return "", fmt.Errorf("start generate-root: %w", err)
	}
	if st.OTP == "" || st.Nonce == "" {
		return "", errors.New("start generate-root: Vault returned no OTP (it needs Vault 1.10 or later)")
	}
	otp, nonce := st.OTP, st.Nonce
	if err := nonces.SaveNonce(nonce); err != nil {
		// Without the record, a crash would leave an attempt that looks
		// like an operator's. Give it up now, while it is known to be ours.
		_ = v.GenerateRootCancelWithContext(context.WithoutCancel(ctx))
		return "", err
	}
	// The completing reply carries the only copy of the token: a shutdown
	// must not cut it, so the updates run to their own timeout.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UpdateTimeout)
	defer cancel()
	for i, k := range keys {
		st, err = v.GenerateRootUpdateWithContext(uctx, k, nonce)
		if err != nil {
			return "", fmt.Errorf("generate-root: key at index %d: %w", i, err)
		}
		if st.Complete {
			break
		}
	}
	if !st.Complete {
		return "", fmt.Errorf("generate-root: %d of %d shares entered and not complete: the stored keys are not this Vault's", st.Progress, st.Required)
	}
	encoded := st.EncodedToken
	if encoded == "" {
		encoded = st.EncodedRootToken
	}
	token, err := Decode(encoded, otp)
	if err != nil {
		return "", err
	}
	// A nonce record left behind is harmless: no attempt carries it now.
	_ = nonces.ClearNonce()
	return token, nil
}

// Decode undoes generate-root's encoding: the token's bytes xor-ed with the
// OTP's, in unpadded standard base64. (The sdk's roottoken.DecodeToken does
// the same; the product does not link the Vault sdk for ten lines.)
func Decode(encoded, otp string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(encoded)
	if err != nil {
		return "", fmt.Errorf("decode generated root token: %w", err)
	}
	if len(raw) != len(otp) {
		return "", fmt.Errorf("decode generated root token: %d bytes for an OTP of %d", len(raw), len(otp))
	}
	out := make([]byte, len(raw))
	for i := range raw {
		out[i] = raw[i] ^ otp[i]
	}
	return string(out), nil
}
