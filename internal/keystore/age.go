package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// AgeFileName is the keystore's name when it is encrypted with age.
const AgeFileName = FileName + ".age"

// ErrNoIdentity means that the keystore is encrypted and no identity that
// decrypts it was given: vault-init can then neither unseal nor initialize.
var ErrNoIdentity = errors.New("the keystore is encrypted with age and no identity to decrypt it is configured (VAULT_INIT_AGE_IDENTITY_FILE)")

// ageKeys are the keystore's age recipients (to write) and identities (to
// read). Either may be empty. They are the encryption layer between Keys
// and its Store: any Store holds init.json.age the same way.
type ageKeys struct {
	recipients []age.Recipient
	identities []age.Identity
}

// WithAge returns the keystore of the same store, written encrypted to
// recipients (init.json.age, ASCII-armored) and read with identities.
// Without identities it can write nothing (what it writes must be read back)
// and read no encrypted keystore.
func (k *Keys) WithAge(recipients []age.Recipient, identities []age.Identity) *Keys {
	return &Keys{store: k.store, age: &ageKeys{recipients: recipients, identities: identities}}
}

// Encrypted reports whether the keystore is written encrypted.
func (k *Keys) Encrypted() bool { return k.age != nil && len(k.age.recipients) > 0 }

// EncryptedOnDisk reports whether the stored keystore is the encrypted one.
func (k *Keys) EncryptedOnDisk() bool { return k.has(AgeFileName) }

// ParseAge reads an age recipient (age1...) and, when identityFile is not
// "", the identities in that file.
func ParseAge(recipient, identityFile string) ([]age.Recipient, []age.Identity, error) {
	var rs []age.Recipient
	if recipient != "" {
		r, err := age.ParseRecipients(bytes.NewReader([]byte(recipient + "\n")))
		if err != nil {
			return nil, nil, fmt.Errorf("age recipient: %w", err)
		}
		rs = r
	}
	if identityFile == "" {
		return rs, nil, nil
	}
	fh, err := os.Open(identityFile)
	if err != nil {
		return nil, nil, fmt.Errorf("age identity: %w", err)
	}
	defer fh.Close()
	ids, err := age.ParseIdentities(io.LimitReader(fh, 1<<16))
	if err != nil {
		// age's parse errors may quote the line: say only where it failed.
		return nil, nil, fmt.Errorf("age identity file %s: not an age identity file", identityFile)
	}
	return rs, ids, nil
}

// encrypt seals raw to the recipients, armored.
func (a *ageKeys) encrypt(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	arm := armor.NewWriter(&buf)
	w, err := age.Encrypt(arm, a.recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	if err := errors.Join(w.Close(), arm.Close()); err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	return buf.Bytes(), nil
}

// decrypt opens an encrypted keystore's bytes (read from where) with the
// identities. A nil *ageKeys has none.
func (a *ageKeys) decrypt(where string, raw []byte) ([]byte, error) {
	if a == nil || len(a.identities) == 0 {
		return nil, fmt.Errorf("%s: %w; vault-init can neither unseal nor initialize without it", where, ErrNoIdentity)
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(raw)), a.identities...)
	if err != nil {
		return nil, fmt.Errorf("decrypt keystore %s: %w (is the identity the one for this keystore's recipient?)", where, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("decrypt keystore %s: %w", where, err)
	}
	return out, nil
}

// checkIdentity proves, before init, that what is encrypted to the
// recipients can be decrypted with the identities: keys encrypted to a
// recipient whose identity is missing would be lost for good.
func (a *ageKeys) checkIdentity() error {
	_, err := a.encryptChecked("the age probe", []byte("vault-init age probe\n"))
	return err
}

// encryptChecked encrypts raw and decrypts the result in memory: only what
// the identity is proven to open may replace anything stored.
func (a *ageKeys) encryptChecked(where string, raw []byte) ([]byte, error) {
	enc, err := a.encrypt(raw)
	if err != nil {
		return nil, err
	}
	back, err := a.decrypt(where, enc)
	if err != nil {
		return nil, fmt.Errorf("the age identity cannot decrypt what is encrypted to the recipient: %w", err)
	}
	if !bytes.Equal(back, raw) {
		return nil, errors.New("the encrypted copy does not decrypt to what was encrypted")
	}
	return enc, nil
}

// Migrate brings the store in line with the keystore's mode, and says what
// it did ("" for nothing). With age on and a plaintext init.json there, it
// encrypts the keys to init.json.age, reads them back with the identity,
// and only then removes init.json. Without an identity it leaves init.json
// alone (encrypting to a recipient whose identity is not at hand could lock
// the keys away) and returns an error that says so.
func (k *Keys) Migrate() (string, error) {
	plain, perr := k.store.Get(FileName)
	if perr != nil && !errors.Is(perr, ErrNotFound) {
		return "", perr
	}
	hasPlain, hasAge := perr == nil, k.has(AgeFileName)
	plainAt, ageAt := k.store.Where(FileName), k.store.Where(AgeFileName)
	if !k.Encrypted() {
		if hasAge && hasPlain {
			return "", fmt.Errorf("both %s and %s exist: remove the one that is not current", plainAt, ageAt)
		}
		return "", nil
	}
	if !hasPlain {
		return "", nil
	}
	d, err := decode(plainAt, plain)
	if err != nil {
		return "", err
	}
	if len(k.age.identities) == 0 {
		return "", fmt.Errorf("%s is plaintext and VAULT_INIT_AGE_RECIPIENT is set, but no identity is configured to check an encrypted copy: "+
			"kept as plaintext. Mount the identity (VAULT_INIT_AGE_IDENTITY_FILE) to encrypt it", plainAt)
	}
	if hasAge {
		// A migration stopped between the encrypted write and the removal.
		enc, err := k.Load()
		if err != nil {
			return "", err
		}
		if !enc.Equal(d) {
			return "", fmt.Errorf("both %s and %s exist and hold different keys: resolve by hand", plainAt, ageAt)
		}
		return "removed the plaintext keystore left by an earlier migration", k.store.Delete(FileName)
	}
	if err := k.Save(d); err != nil {
		return "", err
	}
	return "encrypted the plaintext keystore with age", nil
}
