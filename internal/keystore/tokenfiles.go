package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aurora/vault-init/internal/atomicfile"
)

// AppTokenFileName holds the application's token, for .env.
const AppTokenFileName = "app-token"

// NonceFileName records the nonce of vault-init's own generate-root
// attempt while it runs, so that after a crash it is known as vault-init's.
const NonceFileName = "generate-root.nonce"

// SaveNonce records the nonce of vault-init's generate-root attempt.
func (f *File) SaveNonce(nonce string) error { return f.saveSmall(NonceFileName, nonce) }

// LoadNonce returns the recorded nonce, or "" when there is none.
func (f *File) LoadNonce() (string, error) {
	n, err := f.loadSmall(NonceFileName)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return n, err
}

// ClearNonce removes the record. Removing an absent one is not an error.
func (f *File) ClearNonce() error { return f.remove(NonceFileName) }

// RekeyNonceFileName records the nonce of vault-init's own rekey (or of its
// probe rekey) while it runs, so that after a crash the rekey it left in
// Vault is known as vault-init's, and may be cancelled; anyone else's never
// is. A nonce is no secret (Vault shows it to anyone).
const RekeyNonceFileName = "rekey.nonce"

// SaveRekeyNonce records the nonce of vault-init's rekey, durably.
func (f *File) SaveRekeyNonce(nonce string) error { return f.saveSmall(RekeyNonceFileName, nonce) }

// LoadRekeyNonce returns the recorded rekey nonce, or "" when there is none.
func (f *File) LoadRekeyNonce() (string, error) {
	n, err := f.loadSmall(RekeyNonceFileName)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return n, err
}

// ClearRekeyNonce removes the record. Removing an absent one is not an error.
func (f *File) ClearRekeyNonce() error { return f.remove(RekeyNonceFileName) }

// remove removes a file of the data dir, durably; an absent one is no error.
func (f *File) remove(name string) error {
	dir, err := f.where()
	if err != nil {
		return err
	}
	return atomicfile.Remove(filepath.Join(dir, name))
}

// saveSmall writes a one-line file in the data dir, atomically, 0600.
func (f *File) saveSmall(name, value string) error {
	dir, err := f.ensureDir()
	if err != nil {
		return fmt.Errorf("prepare data dir: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, name), []byte(value+"\n")); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

// loadSmall reads a one-line file of the data dir; ErrNotFound when absent.
func (f *File) loadSmall(name string) (string, error) {
	dir, err := f.where()
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	if len(raw) > maxSmall {
		return "", fmt.Errorf("read %s: larger than %d bytes", name, maxSmall)
	}
	return strings.TrimSpace(string(raw)), nil
}
