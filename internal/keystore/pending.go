package keystore

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Kinds of Pending change.
const (
	// PendingRekey: new key shares (sys/rekey, or sys/rekey-recovery-key
	// when Recovery) that Vault may or may not have taken yet.
	PendingRekey = "rekey"
	// PendingSealMigration: a seal migration (Shamir to an auto-unseal seal,
	// or back) that Vault may or may not have finished. The shares stay the
	// same bytes; only what they are changes.
	PendingSealMigration = "seal-migration"
)

// Pending is a change of keys under way: what the keystore becomes once
// Vault has taken it. It is written, and read back, before the step that
// makes Vault take it, so that a crash at any point leaves a keystore that
// still opens Vault: until the change is settled, the current keys or the
// pending ones open it. It is settled by whoever can tell which of them are
// Vault's (Completed when the pending keys are, Abandoned when the current
// ones still are): `vault-init rekey` or `vault-init migrate`, or the watch
// loop when the pending keys opened Vault.
type Pending struct {
	Kind      string    `json:"kind"`
	StartedAt time.Time `json:"started_at"`
	// Nonce is Vault's nonce of a rekey, so that vault-init knows the rekey
	// as its own after a crash (and may cancel it); anyone else's is never
	// cancelled.
	Nonce string `json:"nonce,omitempty"`
	// Recovery: a rekey of the recovery keys of an auto-unseal Vault.
	Recovery bool `json:"recovery,omitempty"`
	// Shares, Threshold, Keys and KeysB64 are a rekey's new shares.
	Shares    int      `json:"shares,omitempty"`
	Threshold int      `json:"threshold,omitempty"`
	Keys      []string `json:"keys,omitempty"`
	KeysB64   []string `json:"keys_base64,omitempty"`
	// SealType is a seal migration's seal after it: "shamir", or the
	// auto-unseal seal's type.
	SealType string `json:"seal_type,omitempty"`
}

// String describes the change without its keys, so that printing one by
// mistake leaks nothing.
func (p *Pending) String() string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("Pending{kind: %s, started_at: %s, recovery: %t, shares: %d, threshold: %d, keys: %d, seal_type: %s}",
		p.Kind, p.StartedAt.Format(time.RFC3339), p.Recovery, p.Shares, p.Threshold, len(p.Keys), p.SealType)
}

// GoString hides the keys from %#v too.
func (p *Pending) GoString() string { return p.String() }

func (p *Pending) equal(o *Pending) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.Kind == o.Kind && p.StartedAt.Equal(o.StartedAt) && p.Nonce == o.Nonce && p.Recovery == o.Recovery &&
		p.Shares == o.Shares && p.Threshold == o.Threshold && slices.Equal(p.Keys, o.Keys) &&
		slices.Equal(p.KeysB64, o.KeysB64) && p.SealType == o.SealType
}

func (p *Pending) clone() *Pending {
	if p == nil {
		return nil
	}
	c := *p
	c.Keys, c.KeysB64 = slices.Clone(p.Keys), slices.Clone(p.KeysB64)
	return &c
}

// validate checks a pending change the way Validate checks the keys: by
// counts, never values.
func (p *Pending) validate() error {
	switch p.Kind {
	case PendingRekey:
		switch {
		case len(p.Keys) == 0:
			return errors.New("pending rekey has no keys")
		case p.Threshold < 1 || p.Threshold > len(p.Keys):
			return fmt.Errorf("pending rekey: threshold %d does not fit %d keys", p.Threshold, len(p.Keys))
		case len(p.KeysB64) != 0 && len(p.KeysB64) != len(p.Keys):
			return fmt.Errorf("pending rekey: %d keys but %d base64 keys", len(p.Keys), len(p.KeysB64))
		case slices.Contains(p.Keys, ""):
			return errors.New("pending rekey has an empty key")
		}
	case PendingSealMigration:
		if p.SealType == "" {
			return errors.New("pending seal migration names no seal")
		}
	default:
		return fmt.Errorf("unknown pending change %q", p.Kind)
	}
	return nil
}

// UnsealKeySets are the sets of unseal keys that may open a Shamir Vault,
// the likeliest first: the stored keys, then a pending rekey's new ones
// (Vault takes them at the rekey's last step, which a crash may have
// separated from the keystore's last write). With an auto-unseal seal,
// none; unless a migration back to Shamir is pending: Vault may have
// finished it, and then the recovery keys are its unseal keys.
func (d *InitData) UnsealKeySets() [][]string {
	if d.AutoUnseal() {
		if p := d.Pending; p != nil && p.Kind == PendingSealMigration && p.SealType == "shamir" {
			return [][]string{d.RecoveryKeys}
		}
		return nil
	}
	sets := [][]string{d.Keys}
	if p := d.Pending; p != nil && p.Kind == PendingRekey && !p.Recovery {
		sets = append(sets, p.Keys)
	}
	return sets
}

// GenerateRootKeySets are the sets of keys that sys/generate-root may
// take, the likeliest first: GenerateRootKeys, then a pending rekey's new
// keys of the same kind (recovery keys with an auto-unseal seal, unseal
// keys otherwise), which Vault took if a crash came between its last
// verify reply and the keystore's last write.
func (d *InitData) GenerateRootKeySets() [][]string {
	sets := [][]string{d.GenerateRootKeys()}
	if p := d.Pending; p != nil && p.Kind == PendingRekey && p.Recovery == d.AutoUnseal() {
		sets = append(sets, p.Keys)
	}
	return sets
}

// Completed returns the data as it is once Vault has taken the pending
// change, with no change pending: a rekey's new shares in place of the old
// ones; a migration's shares under their new name (unseal keys become
// recovery keys, or the reverse). It returns a clone of d when nothing is
// pending.
func (d *InitData) Completed() *InitData {
	c := d.Clone()
	p := c.Pending
	c.Pending = nil
	if p != nil {
		c.Generation++
	}
	switch {
	case p == nil:
	case p.Kind == PendingRekey && p.Recovery:
		c.RecoveryShares, c.RecoveryThreshold = p.Shares, p.Threshold
		c.RecoveryKeys, c.RecoveryKeysB64 = p.Keys, p.KeysB64
	case p.Kind == PendingRekey:
		c.SecretShares, c.SecretThreshold = p.Shares, p.Threshold
		c.Keys, c.KeysB64 = p.Keys, p.KeysB64
	case p.Kind == PendingSealMigration:
		c.migrate(p.SealType)
	}
	return c
}

// migrate renames the shares for seal to: the same bytes, now unseal keys
// (to Shamir) or recovery keys (to an auto-unseal seal).
func (d *InitData) migrate(to string) {
	from := d.AutoUnseal()
	d.SealType = to
	switch toAuto := d.AutoUnseal(); {
	case !from && toAuto:
		d.RecoveryShares, d.RecoveryThreshold = d.SecretShares, d.SecretThreshold
		d.RecoveryKeys, d.RecoveryKeysB64 = d.Keys, d.KeysB64
		d.SecretShares, d.SecretThreshold, d.Keys, d.KeysB64 = 0, 0, nil, nil
	case from && !toAuto:
		d.SecretShares, d.SecretThreshold = d.RecoveryShares, d.RecoveryThreshold
		d.Keys, d.KeysB64 = d.RecoveryKeys, d.RecoveryKeysB64
		d.RecoveryShares, d.RecoveryThreshold, d.RecoveryKeys, d.RecoveryKeysB64 = 0, 0, nil, nil
	}
}

// Abandoned returns the data without its pending change: Vault never took
// it, and the stored keys are still Vault's.
func (d *InitData) Abandoned() *InitData {
	c := d.Clone()
	c.Pending = nil
	return c
}
