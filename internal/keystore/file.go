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

	"github.com/aurora/vault-init/internal/atomicfile"
)

// MaxFileSize bounds what Load reads. A real keystore is a few KiB; anything
// larger is not one.
const MaxFileSize = 1 << 20

// File is the keystore on disk: init.json, 0600, in a 0700 directory, the
// data dir or a directory of vault-init's own inside it (see Dir). Its
// methods may be called from several goroutines, but two processes must not
// write the same directory at once (the caller serializes them).
type File struct {
	dataDir string
	age     *ageKeys // nil: plaintext
}

// New returns the keystore kept in the data dir dir. It touches nothing on
// disk.
func New(dir string) *File {
	return &File{dataDir: dir}
}

// Path is the keystore file's full path: init.json.age when that exists, or
// when age is on and no plaintext init.json waits to be migrated;
// init.json otherwise.
func (f *File) Path() string {
	if exists(f.agePath()) || (f.Encrypted() && !exists(f.plainPath())) {
		return f.agePath()
	}
	return f.plainPath()
}

// CheckWritable proves that the data directory takes a write exactly as
// Save does it (temp file, write, fsync, rename, directory fsync), and a
// removal. Call it before sys/init: the init response is shown only once,
// so the place to keep it must work before it is asked for.
func (f *File) CheckWritable() error {
	dir, err := f.ensureDir()
	if err != nil {
		return fmt.Errorf("prepare data dir: %w", err)
	}
	if err := atomicfile.Probe(dir); err != nil {
		return fmt.Errorf("write probe file: %w", err)
	}
	if f.Encrypted() {
		return f.checkIdentity()
	}
	return nil
}

// Load reads the keystore. It returns ErrNotFound (matched with errors.Is)
// only when the file does not exist; a file that exists but cannot be read
// or decoded gives another error, which names the file.
func (f *File) Load() (*InitData, error) {
	if _, err := f.where(); err != nil {
		return nil, err
	}
	d, err := f.loadEncrypted()
	if !errors.Is(err, ErrNotFound) {
		return d, err
	}
	// No encrypted keystore: the plaintext one, also with age on while it
	// is not migrated yet (see Migrate).
	raw, err := readLimited(f.plainPath())
	if err != nil {
		return nil, err
	}
	return decode(f.plainPath(), raw)
}

// decode parses and validates a keystore file's bytes. Errors name the file
// and the JSON problem, never the content.
func decode(path string, raw []byte) (*InitData, error) {
	var d InitData
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("decode keystore %s: %w", path, jsonProblem(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("decode keystore %s: trailing data after the JSON object", path)
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

// Save writes d as the keystore, atomically and durably: a temp file in the
// same directory (0600), fsync, rename over init.json, fsync of the
// directory. It then reads the file back and returns nil only when it holds
// exactly d. On any error the previous file, if any, is left as it was.
//
// With age on, it writes init.json.age instead, and needs the identity to
// read it back; a plaintext init.json is removed once the encrypted one
// reads back right. With age off, it refuses to write init.json beside an
// encrypted keystore.
func (f *File) Save(d *InitData) error {
	raw, name := []byte(encode(d)), FileName
	if f.Encrypted() {
		if len(f.age.identities) == 0 {
			return fmt.Errorf("refusing to write an encrypted keystore that cannot be read back: %w", ErrNoIdentity)
		}
		// A recipient that the identity does not match must not
		// overwrite a readable keystore.
		enc, err := f.encryptChecked(raw)
		if err != nil {
			return fmt.Errorf("refusing to write the keystore: %w", err)
		}
		raw, name = enc, AgeFileName
	} else if exists(f.agePath()) {
		return fmt.Errorf("refusing to write a plaintext keystore beside the encrypted %s: set VAULT_INIT_AGE_RECIPIENT", f.agePath())
	}
	dir, err := f.ensureDir()
	if err != nil {
		return fmt.Errorf("prepare data dir: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, name), raw); err != nil {
		return err
	}
	back, err := f.Load()
	if err != nil {
		return fmt.Errorf("read back keystore: %w", err)
	}
	if !back.Equal(d) {
		return fmt.Errorf("read back keystore %s: content differs from what was written", f.Path())
	}
	if f.Encrypted() {
		return f.removePlain()
	}
	return nil
}

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

// encode is the file's byte form of d.
func encode(d *InitData) string {
	raw, _ := json.MarshalIndent(d, "", "  ")
	return string(raw) + "\n"
}
