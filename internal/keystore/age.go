package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// AgeFileName is the keystore's name when it is encrypted with age.
const AgeFileName = FileName + ".age"

// ErrNoIdentity means that the keystore is encrypted and no identity that
// decrypts it was given: vault-init can then neither unseal nor initialize.
var ErrNoIdentity = errors.New("the keystore is encrypted with age and no identity to decrypt it is configured (VAULT_INIT_AGE_IDENTITY_FILE)")

// ageKeys are the keystore's age recipients (to write) and identities (to
// read). Either may be empty.
type ageKeys struct {
	recipients []age.Recipient
	identities []age.Identity
}

// WithAge returns the keystore of the same directory, written encrypted to
// recipients (init.json.age, ASCII-armored) and read with identities.
// Without identities it can write nothing (what it writes must be read back)
// and read no encrypted keystore.
func (f *File) WithAge(recipients []age.Recipient, identities []age.Identity) *File {
	return &File{dataDir: f.dataDir, age: &ageKeys{recipients: recipients, identities: identities}}
}

// Encrypted reports whether the keystore is written encrypted.
func (f *File) Encrypted() bool { return f.age != nil && len(f.age.recipients) > 0 }

// EncryptedOnDisk reports whether the keystore on disk is the encrypted one.
func (f *File) EncryptedOnDisk() bool { return exists(f.agePath()) }

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

func (f *File) agePath() string   { return filepath.Join(f.Dir(), AgeFileName) }
func (f *File) plainPath() string { return filepath.Join(f.Dir(), FileName) }

// encrypt seals raw to the recipients, armored.
func (f *File) encrypt(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	a := armor.NewWriter(&buf)
	w, err := age.Encrypt(a, f.age.recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	if err := errors.Join(w.Close(), a.Close()); err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	return buf.Bytes(), nil
}

// decrypt opens an encrypted keystore's bytes with the identities.
func (f *File) decrypt(raw []byte) ([]byte, error) {
	if f.age == nil || len(f.age.identities) == 0 {
		return nil, fmt.Errorf("%s: %w; vault-init can neither unseal nor initialize without it", f.agePath(), ErrNoIdentity)
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(raw)), f.age.identities...)
	if err != nil {
		return nil, fmt.Errorf("decrypt keystore %s: %w (is the identity the one for this keystore's recipient?)", f.agePath(), err)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("decrypt keystore %s: %w", f.agePath(), err)
	}
	return out, nil
}

// checkIdentity proves, before init, that what is encrypted to the
// recipients can be decrypted with the identities: keys encrypted to a
// recipient whose identity is missing would be lost for good.
func (f *File) checkIdentity() error {
	_, err := f.encryptChecked([]byte("vault-init age probe\n"))
	return err
}

// encryptChecked encrypts raw and decrypts the result in memory: only what
// the identity is proven to open may replace anything on disk.
func (f *File) encryptChecked(raw []byte) ([]byte, error) {
	enc, err := f.encrypt(raw)
	if err != nil {
		return nil, err
	}
	back, err := f.decrypt(enc)
	if err != nil {
		return nil, fmt.Errorf("the age identity cannot decrypt what is encrypted to the recipient: %w", err)
	}
	if !bytes.Equal(back, raw) {
		return nil, errors.New("the encrypted copy does not decrypt to what was encrypted")
	}
	return enc, nil
}

// Migrate brings the data dir in line with the keystore's mode, and says
// what it did ("" for nothing). With age on and a plaintext init.json
// there, it encrypts the keys to init.json.age, reads them back with the
// identity, and only then removes init.json. Without an identity it leaves
// init.json alone (encrypting to a recipient whose identity is not at hand
// could lock the keys away) and returns an error that says so.
func (f *File) Migrate() (string, error) {
	if _, err := f.where(); err != nil {
		return "", err
	}
	if !f.Encrypted() {
		if exists(f.agePath()) && exists(f.plainPath()) {
			return "", fmt.Errorf("both %s and %s exist: remove the one that is not current", f.plainPath(), f.agePath())
		}
		return "", nil
	}
	if !exists(f.plainPath()) {
		return "", nil
	}
	plain, err := readLimited(f.plainPath())
	if err != nil {
		return "", err
	}
	d, err := decode(f.plainPath(), plain)
	if err != nil {
		return "", err
	}
	if len(f.age.identities) == 0 {
		return "", fmt.Errorf("%s is plaintext and VAULT_INIT_AGE_RECIPIENT is set, but no identity is configured to check an encrypted copy: "+
			"kept as plaintext. Mount the identity (VAULT_INIT_AGE_IDENTITY_FILE) to encrypt it", f.plainPath())
	}
	if exists(f.agePath()) {
		// A migration stopped between the encrypted write and the removal.
		enc, err := f.loadEncrypted()
		if err != nil {
			return "", err
		}
		if !enc.Equal(d) {
			return "", fmt.Errorf("both %s and %s exist and hold different keys: resolve by hand", f.plainPath(), f.agePath())
		}
		return "removed the plaintext keystore left by an earlier migration", f.removePlain()
	}
	if err := f.Save(d); err != nil {
		return "", err
	}
	return "encrypted the plaintext keystore with age", nil
}

// loadEncrypted reads and decrypts init.json.age.
func (f *File) loadEncrypted() (*InitData, error) {
	raw, err := readLimited(f.agePath())
	if err != nil {
		return nil, err
	}
	plain, err := f.decrypt(raw)
	if err != nil {
		return nil, err
	}
	return decode(f.agePath(), plain)
}

// removePlain removes a plaintext init.json once an encrypted copy holds
// the same keys. (Its blocks may remain on the disk: see the README.)
func (f *File) removePlain() error { return f.remove(FileName) }

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// readLimited reads a keystore file: ErrNotFound when it is absent.
func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open keystore: %w", err)
	}
	defer fh.Close()
	raw, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read keystore %s: %w", path, err)
	}
	if len(raw) > MaxFileSize {
		return nil, fmt.Errorf("read keystore %s: larger than %d bytes, not a keystore", path, MaxFileSize)
	}
	return raw, nil
}
