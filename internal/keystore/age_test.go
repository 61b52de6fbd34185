package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/aurora/vault-init/internal/atomicfile"
)

// ageKeystore returns an encrypting keystore in dir and its identity, which
// it writes to an identity file (as an operator would mount it).
func ageKeystore(t *testing.T, dir string) (*File, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "identity.txt")
	if err := os.WriteFile(idFile, []byte("# created: test\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, ids, err := ParseAge(id.Recipient().String(), idFile)
	if err != nil {
		t.Fatal(err)
	}
	return New(dir).WithAge(rs, ids), id.Recipient().String()
}

func TestAgeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ks, _ := ageKeystore(t, dir)
	if err := ks.CheckWritable(); err != nil {
		t.Fatal(err)
	}
	if err := ks.Save(sample()); err != nil {
		t.Fatal(err)
	}
	got, err := ks.Load()
	if err != nil || !got.Equal(sample()) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if ks.Path() != filepath.Join(dir, AgeFileName) {
		t.Fatalf("Path() = %s", ks.Path())
	}
	assertMode(t, ks.Path(), 0o600)
	raw, _ := os.ReadFile(ks.Path())
	if !bytes.HasPrefix(raw, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) {
		t.Fatalf("not an armored age file:\n%s", raw)
	}
	for _, secret := range append(sample().Keys, sample().RootToken, "keys") {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("the encrypted keystore holds %q in clear", secret)
		}
	}
	if exists(filepath.Join(dir, FileName)) {
		t.Fatal("a plaintext init.json was written too")
	}
}

func TestAgeWithoutIdentity(t *testing.T) {
	dir := t.TempDir()
	ks, recipient := ageKeystore(t, dir)
	if err := ks.Save(sample()); err != nil {
		t.Fatal(err)
	}
	rs, _, err := ParseAge(recipient, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*File{"age without identity": New(dir).WithAge(rs, nil), "plaintext mode": New(dir)} {
		t.Run(name, func(t *testing.T) {
			_, err := k.Load()
			if !errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrNotFound) {
				t.Fatalf("Load = %v, want ErrNoIdentity (and never ErrNotFound: that would allow a second init)", err)
			}
			if err := k.Save(sample()); err == nil {
				t.Fatal("Save without an identity succeeded")
			}
			if exists(filepath.Join(dir, FileName)) {
				t.Fatal("a plaintext keystore appeared beside the encrypted one")
			}
		})
	}
	t.Run("cannot initialize", func(t *testing.T) {
		if err := New(t.TempDir()).WithAge(rs, nil).CheckWritable(); !errors.Is(err, ErrNoIdentity) {
			t.Fatalf("CheckWritable without an identity = %v", err)
		}
	})
	t.Run("wrong identity", func(t *testing.T) {
		other, _ := ageKeystore(t, t.TempDir())
		wrong := New(dir).WithAge(rs, other.age.identities)
		if _, err := wrong.Load(); err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("Load with the wrong identity = %v", err)
		}
		mismatched := New(t.TempDir()).WithAge(rs, other.age.identities)
		if err := mismatched.CheckWritable(); err == nil {
			t.Fatal("CheckWritable accepted an identity that does not match the recipient")
		}
	})
}

func TestAgeMigrate(t *testing.T) {
	t.Run("with identity: encrypted, plaintext removed", func(t *testing.T) {
		dir := t.TempDir()
		if err := New(dir).Save(sample()); err != nil {
			t.Fatal(err)
		}
		ks, _ := ageKeystore(t, dir)
		did, err := ks.Migrate()
		if err != nil || did == "" {
			t.Fatalf("Migrate = %q, %v", did, err)
		}
		if exists(filepath.Join(dir, FileName)) {
			t.Fatal("plaintext init.json survived the migration")
		}
		if got, err := ks.Load(); err != nil || !got.Equal(sample()) {
			t.Fatalf("after migration: %v %v", got, err)
		}
		if did, err := ks.Migrate(); err != nil || did != "" {
			t.Fatalf("second Migrate = %q, %v", did, err)
		}
	})
	t.Run("without identity: kept as plaintext, still usable", func(t *testing.T) {
		dir := t.TempDir()
		if err := New(dir).Save(sample()); err != nil {
			t.Fatal(err)
		}
		_, recipient := ageKeystore(t, t.TempDir())
		rs, _, _ := ParseAge(recipient, "")
		noID := New(dir).WithAge(rs, nil)
		if _, err := noID.Migrate(); err == nil || !strings.Contains(err.Error(), "kept as plaintext") {
			t.Fatalf("Migrate without identity = %v", err)
		}
		if exists(filepath.Join(dir, AgeFileName)) {
			t.Fatal("an encrypted copy was written without an identity to check it")
		}
		if got, err := noID.Load(); err != nil || !got.Equal(sample()) {
			t.Fatalf("the plaintext keystore is not usable: %v %v", got, err)
		}
	})
	t.Run("stopped mid-migration: both files", func(t *testing.T) {
		dir := t.TempDir()
		ks, _ := ageKeystore(t, dir)
		if err := ks.Save(sample()); err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.Write(filepath.Join(dir, FileName), []byte(encode(sample()))); err != nil {
			t.Fatal(err)
		}
		if did, err := ks.Migrate(); err != nil || did == "" || exists(filepath.Join(dir, FileName)) {
			t.Fatalf("Migrate = %q, %v", did, err)
		}
		other := sample()
		other.RootToken = "hvs.other"
		if err := atomicfile.Write(filepath.Join(dir, FileName), []byte(encode(other))); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Migrate(); err == nil || !strings.Contains(err.Error(), "different keys") {
			t.Fatalf("Migrate with two different keystores = %v", err)
		}
		if !exists(filepath.Join(dir, FileName)) {
			t.Fatal("a differing plaintext keystore was removed")
		}
	})
}

func TestParseAgeErrors(t *testing.T) {
	if _, _, err := ParseAge("age1notarecipient", ""); err == nil {
		t.Fatal("a bad recipient was accepted")
	}
	bad := filepath.Join(t.TempDir(), "id")
	os.WriteFile(bad, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600)
	_, _, err := ParseAge("", bad)
	if err == nil || strings.Contains(err.Error(), "NOTAKEY") {
		t.Fatalf("bad identity file: %v (the error must not quote it)", err)
	}
}

// TestAgeMismatchedPairWritesNothing: a recipient that the identity does
// not open must never replace a keystore that can be read.
func TestAgeMismatchedPairWritesNothing(t *testing.T) {
	dir := t.TempDir()
	good, _ := ageKeystore(t, dir)
	if err := good.Save(sample()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, AgeFileName))
	_, otherRecipient := ageKeystore(t, t.TempDir())
	rs, _, err := ParseAge(otherRecipient, "")
	if err != nil {
		t.Fatal(err)
	}
	mismatched := New(dir).WithAge(rs, good.age.identities)
	changed := sample()
	changed.PendingRevoke = []string{"accessor"}
	if err := mismatched.Save(changed); err == nil {
		t.Fatal("Save with a recipient the identity does not open succeeded")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, AgeFileName)); !bytes.Equal(before, after) {
		t.Fatal("the readable keystore was replaced")
	}
	if got, err := good.Load(); err != nil || !got.Equal(sample()) {
		t.Fatalf("the keystore no longer loads: %v", err)
	}

	t.Run("migration", func(t *testing.T) {
		dir := t.TempDir()
		if err := New(dir).Save(sample()); err != nil {
			t.Fatal(err)
		}
		mismatched := New(dir).WithAge(rs, good.age.identities)
		if _, err := mismatched.Migrate(); err == nil {
			t.Fatal("Migrate with a mismatched pair succeeded")
		}
		if exists(filepath.Join(dir, AgeFileName)) {
			t.Fatal("an unreadable init.json.age was written in front of init.json")
		}
		if got, err := New(dir).Load(); err != nil || !got.Equal(sample()) {
			t.Fatalf("the plaintext keystore is not usable: %v", err)
		}
	})
}
