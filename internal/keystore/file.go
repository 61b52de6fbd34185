package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/aurora/vault-init/internal/atomicfile"
)

// MaxFileSize bounds what Get reads. A real keystore is a few KiB; anything
// larger is not one.
const MaxFileSize = 1 << 20

// File is the data directory: the Store that keeps the keystore as files
// (init.json, 0600, in a 0700 directory: the data dir or a directory of
// vault-init's own inside it, see Dir), and the home of vault-init's local
// state, which belongs to one process and its host, whatever the keys'
// store: the pause mark, the lock, the generate-root nonce.
//
// The keystore in it is promoted from the embedded Keys (Load, Save,
// Migrate, ...). Its methods may be called from several goroutines; two
// processes sharing the directory are serialized by its flock (ClaimInit,
// Lock).
type File struct {
	dataDir string
	*Keys   // the keystore kept in this directory
}

// New returns the data dir dir and the plaintext keystore in it. It touches
// nothing on disk.
func New(dir string) *File {
	f := &File{dataDir: dir}
	f.Keys = NewKeys(f)
	return f
}

// WithAge returns the same data dir, with its keystore written encrypted
// to recipients and read with identities (see Keys.WithAge).
func (f *File) WithAge(recipients []age.Recipient, identities []age.Identity) *File {
	g := &File{dataDir: f.dataDir}
	g.Keys = NewKeys(g).WithAge(recipients, identities)
	return g
}

// Get reads the file name of the keystore's directory: ErrNotFound when it
// does not exist.
func (f *File) Get(name string) ([]byte, error) {
	dir, err := f.where()
	if err != nil {
		return nil, err
	}
	return readLimited(filepath.Join(dir, name))
}

// Put writes the file name atomically and durably (temp file 0600 in the
// same directory, fsync, rename, directory fsync), then reads it back.
func (f *File) Put(name string, data []byte) error {
	dir, err := f.ensureDir()
	if err != nil {
		return fmt.Errorf("prepare data dir: %w", err)
	}
	path := filepath.Join(dir, name)
	if err := atomicfile.Write(path, data); err != nil {
		return err
	}
	back, err := readLimited(path)
	if err != nil {
		return fmt.Errorf("read back %s: %w", path, err)
	}
	if !bytes.Equal(back, data) {
		return fmt.Errorf("read back %s: content differs from what was written", path)
	}
	return nil
}

// Exists reports whether the file name exists (Lstat: nothing is read).
func (f *File) Exists(name string) bool { return exists(f.Where(name)) }

// Delete removes the file name durably; an absent file is no error.
func (f *File) Delete(name string) error { return f.remove(name) }

// Where is the full path of the file name.
func (f *File) Where(name string) string { return filepath.Join(f.Dir(), name) }

// Probe proves that the directory takes a write exactly as Put does it
// (temp file, write, fsync, rename, directory fsync), and a removal.
func (f *File) Probe() error {
	dir, err := f.ensureDir()
	if err != nil {
		return fmt.Errorf("prepare data dir: %w", err)
	}
	if err := atomicfile.Probe(dir); err != nil {
		return fmt.Errorf("write probe file: %w", err)
	}
	return nil
}

// ClaimInit takes the data dir's flock (TryLock): ErrLocked while another
// process holds it. The claim ends with release, sent or not: Vault's own
// answer, asked again under the lock, tells the next holder whether the
// Vault behind this directory was initialized.
func (f *File) ClaimInit(string) (func(bool), error) {
	unlock, err := f.TryLock()
	if err != nil {
		return nil, err
	}
	return func(bool) { unlock() }, nil
}

// Lock takes the data dir's flock (TryLock).
func (f *File) Lock() (func(), error) { return f.TryLock() }

// Mode returns the keystore file's permission bits, for status reports and
// the check that nobody else can read it.
func (f *File) Mode() (fs.FileMode, error) {
	st, err := os.Stat(f.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("stat keystore: %w", err)
	}
	return st.Mode().Perm(), nil
}

// decode parses and validates a keystore's bytes. Errors name the place and
// the JSON problem, never the content.
func decode(path string, raw []byte) (*InitData, error) {
	var d InitData
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("decode keystore %s: %w", path, jsonProblem(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("decode keystore %s: trailing data after the JSON object", path)
	}
	if d.Version == formatVersionPending {
		if d.Pending == nil {
			return nil, fmt.Errorf("keystore %s: format version %d without a pending change", path, formatVersionPending)
		}
		d.Version = FormatVersion
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("keystore %s: %w", path, err)
	}
	return &d, nil
}

// jsonProblem keeps the kind and offset of a JSON error and drops any value
// the decoder may quote (a mistyped field could hold a key).
func jsonProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q has the wrong type (%s, want %s)", typ.Field, typ.Value, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated JSON")
	}
	return errors.New("invalid JSON")
}

// formatVersionPending is the version written while a key change is
// pending. A vault-init older than key changes reads version 1 only, and
// would drop the pending keys it does not know at its next write (they may
// be Vault's only keys); version 2 makes it refuse the file instead. In
// memory, the data is version 1 either way.
const formatVersionPending = 2

// encode is the stored byte form of d.
func encode(d *InitData) string {
	if d.Pending != nil && d.Version == FormatVersion {
		c := *d
		c.Version = formatVersionPending
		d = &c
	}
	raw, _ := json.MarshalIndent(d, "", "  ")
	return string(raw) + "\n"
}

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
