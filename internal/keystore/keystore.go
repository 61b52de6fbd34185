// Package keystore keeps Vault's init response, the unseal keys and the root
// token. It is the only copy of the keys: writes are atomic, durable and
// read back, and reads tell "there is nothing" apart from "it could not be
// read".
//
// Three layers:
//
//   - Store (store.go) is where blobs live, and its doc comment is the
//     contract every backend keeps: the data dir (File, here) or a
//     Kubernetes Secret (package k8sstore). storetest.Run checks it.
//   - The age layer (age.go) encrypts the keystore's blob, the same way
//     over any Store: init.json becomes init.json.age.
//   - Keys (keys.go) is the keystore itself: it encodes, validates and
//     verifies Vault's init data over a Store, with or without age.
//
// What is kept where: the keys, and the app token issued for them, go
// through the Store, so that every vault-init sharing a Vault cluster's
// keys sees them (the sidecars of all the pods, on Kubernetes). The local
// state stays in the data dir (File), whatever the Store: the pause mark,
// which stops the one vault-init that an operator paused; the flock, which
// serializes the processes of one host; and the generate-root nonce, which
// lets one process know its own attempt after a crash. None of these is
// worth an API round trip, and none must follow the keys to another host.
package keystore

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// FileName is the keystore's blob name: a file in the data directory, a key
// of a Secret.
const FileName = "init.json"

// FormatVersion is the version of the file format this build writes and reads.
const FormatVersion = 1

// ErrNotFound means that the keystore (or another blob) does not exist. Any
// other error from Load means that it exists (or may exist) but could not be
// used, and must never be taken as "no keys".
var ErrNotFound = errors.New("keystore not found")

// InitData is what sys/init returned, plus what it was asked for.
// Its String and GoString methods hide the keys and the token, so that
// printing one by mistake leaks nothing.
type InitData struct {
	Version         int       `json:"version"`
	CreatedAt       time.Time `json:"created_at"`
	VaultAddr       string    `json:"vault_addr"`
	SecretShares    int       `json:"secret_shares"`
	SecretThreshold int       `json:"secret_threshold"`
	Keys            []string  `json:"keys"`
	KeysB64         []string  `json:"keys_base64"`
	RootToken       string    `json:"root_token"`
	// SealType is Vault's seal at init: "shamir" (unseal keys), or an
	// auto-unseal seal such as "transit", whose Vault returns recovery keys
	// instead. Recovery keys are never submitted as unseal keys.
	SealType          string   `json:"seal_type,omitempty"`
	RecoveryShares    int      `json:"recovery_shares,omitempty"`
	RecoveryThreshold int      `json:"recovery_threshold,omitempty"`
	RecoveryKeys      []string `json:"recovery_keys,omitempty"`
	RecoveryKeysB64   []string `json:"recovery_keys_base64,omitempty"`
	// RootTokenRevoked says that vault-init revoked the root token after
	// setup (VAULT_INIT_REVOKE_ROOT); RootToken is then empty. A revoked
	// token is never stored.
	RootTokenRevoked bool `json:"root_token_revoked,omitempty"`
	// PendingRevoke lists the accessors of root tokens that vault-init holds
	// in memory only and revokes when it is done with them. One left here
	// by a crash is revoked on the next start.
	PendingRevoke []string `json:"pending_revoke,omitempty"`
	// Pending is a rekey or a seal migration under way (see Pending).
	Pending *Pending `json:"pending,omitempty"`
	// Generation counts the key changes (rekeys, seal migrations) since
	// the init: a keystore of the same init with a lower generation is an
	// older copy (a backup put back), whose keys Vault may no longer take.
	Generation int `json:"generation,omitempty"`
}

// AutoUnseal reports whether the data belongs to an auto-unseal Vault.
func (d *InitData) AutoUnseal() bool {
	return d.SealType != "" && d.SealType != "shamir"
}

// String describes the data without any secret in it.
func (d *InitData) String() string {
	if d == nil {
		return "<nil>"
	}
	pending := "none"
	if d.Pending != nil {
		pending = d.Pending.Kind
	}
	return fmt.Sprintf("InitData{version: %d, created_at: %s, seal: %s, shares: %d, threshold: %d, keys: %d, recovery_keys: %d, root_token: %t, root_token_revoked: %t, pending: %s}",
		d.Version, d.CreatedAt.Format(time.RFC3339), d.SealType, d.SecretShares, d.SecretThreshold, len(d.Keys), len(d.RecoveryKeys), d.RootToken != "", d.RootTokenRevoked, pending)
}

// GoString hides the secrets from %#v too.
func (d *InitData) GoString() string { return d.String() }

// Equal reports whether two InitData hold the same values.
func (d *InitData) Equal(o *InitData) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.Version == o.Version && d.CreatedAt.Equal(o.CreatedAt) && d.VaultAddr == o.VaultAddr &&
		d.SecretShares == o.SecretShares && d.SecretThreshold == o.SecretThreshold &&
		slices.Equal(d.Keys, o.Keys) && slices.Equal(d.KeysB64, o.KeysB64) && d.RootToken == o.RootToken &&
		d.SealType == o.SealType && d.RecoveryShares == o.RecoveryShares && d.RecoveryThreshold == o.RecoveryThreshold &&
		slices.Equal(d.RecoveryKeys, o.RecoveryKeys) && slices.Equal(d.RecoveryKeysB64, o.RecoveryKeysB64) &&
		d.RootTokenRevoked == o.RootTokenRevoked && slices.Equal(d.PendingRevoke, o.PendingRevoke) && d.Pending.equal(o.Pending) &&
		d.Generation == o.Generation
}

// Clone returns a deep copy, for changing the data before saving it.
func (d *InitData) Clone() *InitData {
	c := *d
	c.Keys, c.KeysB64 = slices.Clone(d.Keys), slices.Clone(d.KeysB64)
	c.RecoveryKeys, c.RecoveryKeysB64 = slices.Clone(d.RecoveryKeys), slices.Clone(d.RecoveryKeysB64)
	c.PendingRevoke = slices.Clone(d.PendingRevoke)
	c.Pending = d.Pending.clone()
	return &c
}

// GenerateRootKeys are the keys that sys/generate-root takes: the recovery
// keys with an auto-unseal seal, the unseal keys otherwise.
func (d *InitData) GenerateRootKeys() []string {
	if d.AutoUnseal() {
		return d.RecoveryKeys
	}
	return d.Keys
}

// Validate checks that the data can be used to unseal: a known version, and
// at least threshold keys. It names counts, never values.
func (d *InitData) Validate() error {
	if d.Version != FormatVersion {
		return fmt.Errorf("unknown format version %d (this build reads version %d)", d.Version, FormatVersion)
	}
	if d.Pending != nil {
		if err := d.Pending.validate(); err != nil {
			return err
		}
	}
	if d.AutoUnseal() {
		switch {
		case len(d.RecoveryKeys) == 0:
			return fmt.Errorf("no recovery keys for a %q seal", d.SealType)
		case d.RecoveryThreshold < 1 || d.RecoveryThreshold > len(d.RecoveryKeys):
			return fmt.Errorf("recovery threshold %d does not fit %d recovery keys", d.RecoveryThreshold, len(d.RecoveryKeys))
		}
		return nil
	}
	switch {
	case len(d.Keys) == 0:
		return errors.New("no unseal keys")
	case d.SecretThreshold < 1 || d.SecretThreshold > len(d.Keys):
		return fmt.Errorf("threshold %d does not fit %d keys", d.SecretThreshold, len(d.Keys))
	case len(d.KeysB64) != 0 && len(d.KeysB64) != len(d.Keys):
		return fmt.Errorf("%d keys but %d base64 keys", len(d.Keys), len(d.KeysB64))
	}
	for i, k := range d.Keys {
		if k == "" {
			return fmt.Errorf("key %d is empty", i)
		}
	}
	return nil
}
