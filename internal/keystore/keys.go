package keystore

import (
	"errors"
	"fmt"
	"strings"
)

// Keys is the keystore: Vault's init data kept in a Store, as init.json, or
// as init.json.age when age is on (see WithAge). It decodes and validates
// what it reads, and a Save returns only once the data reads back equal.
// Its methods are safe for concurrent use; writers in several processes
// are serialized by the Store (Lock, ClaimInit).
type Keys struct {
	store Store
	age   *ageKeys // nil: plaintext
}

// NewKeys returns the plaintext keystore kept in s.
func NewKeys(s Store) *Keys { return &Keys{store: s} }

// Store is the store the keys are kept in.
func (k *Keys) Store() Store { return k.store }

// Path names the keystore for messages: init.json.age when that exists, or
// when age is on and no plaintext init.json waits to be migrated;
// init.json otherwise. It reads nothing over a network: a store that can
// tell cheaply whether a blob exists (a directory) is asked; for any other
// store the name follows the age setting. Messages use it while the keys
// may exist only in memory, so it must never wait on a slow store.
func (k *Keys) Path() string { return k.store.Where(k.current()) }

// exister is a Store that can tell cheaply, without reading it, whether a
// blob exists (File).
type exister interface{ Exists(name string) bool }

func (k *Keys) current() string {
	if e, ok := k.store.(exister); ok {
		if e.Exists(AgeFileName) || (k.Encrypted() && !e.Exists(FileName)) {
			return AgeFileName
		}
		return FileName
	}
	if k.Encrypted() {
		return AgeFileName
	}
	return FileName
}

// has reports whether the blob exists (or may: an unreadable one counts).
func (k *Keys) has(name string) bool {
	_, err := k.store.Get(name)
	return !errors.Is(err, ErrNotFound)
}

// CheckWritable proves that a Save would work: the store takes a write
// (Store.Probe), and with age on, the identity opens what is encrypted to
// the recipient. Call it before sys/init: the init response is shown only
// once, so the place to keep it must work before it is asked for.
func (k *Keys) CheckWritable() error {
	if err := k.store.Probe(); err != nil {
		return err
	}
	if k.Encrypted() {
		return k.age.checkIdentity()
	}
	return nil
}

// Claim takes the right to initialize (Store.ClaimInit).
func (k *Keys) Claim(holder string) (release func(sent bool), err error) {
	return k.store.ClaimInit(holder)
}

// Lock serializes a read-modify-write of the keystore (Store.Lock).
func (k *Keys) Lock() (unlock func(), err error) { return k.store.Lock() }

// Load reads the keystore. It returns ErrNotFound (matched with errors.Is)
// only when there is no keystore; one that exists but cannot be read,
// decrypted or decoded gives another error, which names it.
func (k *Keys) Load() (*InitData, error) {
	raw, err := k.store.Get(AgeFileName)
	switch {
	case err == nil:
		plain, err := k.age.decrypt(k.store.Where(AgeFileName), raw)
		if err != nil {
			return nil, err
		}
		return decode(k.store.Where(AgeFileName), plain)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	// No encrypted keystore: the plaintext one, also with age on while it
	// is not migrated yet (see Migrate).
	raw, err = k.store.Get(FileName)
	if errors.Is(err, ErrNotFound) {
		// A migration by another process may have written init.json.age
		// and removed init.json between the two reads: look once more
		// before saying that there is nothing.
		if enc, err := k.store.Get(AgeFileName); err == nil {
			plain, err := k.age.decrypt(k.store.Where(AgeFileName), enc)
			if err != nil {
				return nil, err
			}
			return decode(k.store.Where(AgeFileName), plain)
		}
	}
	if err != nil {
		return nil, err
	}
	return decode(k.store.Where(FileName), raw)
}

// Risks lists what puts the stored keys at risk without stopping their
// use, as the Store saw it at its last read (a Kubernetes Secret with an
// owner reference: garbage collection can delete it). Most stores have
// none. (Not named Warnings: File embeds Keys, and would then answer the
// store's question with this method, recursing.)
func (k *Keys) Risks() []string {
	if w, ok := k.store.(interface{ Warnings() []string }); ok {
		return w.Warnings()
	}
	return nil
}

// Save writes d as the keystore, atomically and durably (Store.Put), then
// reads it back and returns nil only when it holds exactly d. On any error
// the previous keystore, if any, is left as it was.
//
// With age on, it writes init.json.age, and needs the identity to read it
// back; a plaintext init.json is removed once the encrypted one reads back
// right. With age off, it refuses to write init.json beside an encrypted
// keystore.
func (k *Keys) Save(d *InitData) error {
	raw, name := []byte(encode(d)), FileName
	if k.Encrypted() {
		if len(k.age.identities) == 0 {
			return fmt.Errorf("refusing to write an encrypted keystore that cannot be read back: %w", ErrNoIdentity)
		}
		// A recipient that the identity does not match must not
		// overwrite a readable keystore.
		enc, err := k.age.encryptChecked(k.store.Where(AgeFileName), raw)
		if err != nil {
			return fmt.Errorf("refusing to write the keystore: %w", err)
		}
		raw, name = enc, AgeFileName
	} else if _, err := k.store.Get(AgeFileName); err == nil {
		return fmt.Errorf("refusing to write a plaintext keystore beside the encrypted %s: set VAULT_INIT_AGE_RECIPIENT", k.store.Where(AgeFileName))
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("refusing to write the keystore: %w", err)
	}
	if err := k.store.Put(name, raw); err != nil {
		return err
	}
	back, err := k.Load()
	if err != nil {
		return fmt.Errorf("read back keystore: %w", err)
	}
	if !back.Equal(d) {
		return fmt.Errorf("read back keystore %s: content differs from what was written", k.store.Where(name))
	}
	if k.Encrypted() {
		return k.store.Delete(FileName)
	}
	return nil
}

// Update changes the keystore through change and saves it, under the
// store's lock. It returns the data saved (the data read, when change
// changed nothing).
func (k *Keys) Update(change func(*InitData)) (*InitData, error) {
	unlock, err := k.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	data, err := k.Load()
	if err != nil {
		return nil, err
	}
	next := data.Clone()
	change(next)
	if next.Equal(data) {
		return data, nil
	}
	if err := k.Save(next); err != nil {
		return nil, err
	}
	return next, nil
}

// AppTokenPath names the app token for messages.
func (k *Keys) AppTokenPath() string { return k.store.Where(AppTokenFileName) }

// SaveAppToken keeps the application's token beside the keys.
func (k *Keys) SaveAppToken(token string) error {
	if err := k.store.Put(AppTokenFileName, []byte(token+"\n")); err != nil {
		return fmt.Errorf("save %s: %w", AppTokenFileName, err)
	}
	return nil
}

// LoadAppToken reads the application's token; ErrNotFound when there is none.
func (k *Keys) LoadAppToken() (string, error) {
	raw, err := k.store.Get(AppTokenFileName)
	if err != nil {
		return "", err
	}
	if len(raw) > maxSmall {
		return "", fmt.Errorf("read %s: larger than %d bytes", k.AppTokenPath(), maxSmall)
	}
	return strings.TrimSpace(string(raw)), nil
}

// maxSmall bounds a one-line blob (the app token, the nonce).
const maxSmall = 4096
