package keystore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/atomicfile"
)

func sample() *InitData {
	return &InitData{
		Version: FormatVersion, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		VaultAddr: "http://vault:8200", SecretShares: 3, SecretThreshold: 2,
		Keys:      []string{"aaaa1111", "bbbb2222", "cccc3333"},
		KeysB64:   []string{"qqoREQ==", "u7siIg==", "zMwzMw=="},
		RootToken: "hvs.rootrootroot",
	}
}

func TestSaveLoadRoundTripAndModes(t *testing.T) {
	old := syscall.Umask(0) // the modes must not depend on the umask
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	ks := New(dir)
	if _, err := ks.Load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of a missing file: %v, want ErrNotFound", err)
	}
	if err := ks.Save(sample()); err != nil {
		t.Fatal(err)
	}
	got, err := ks.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(sample()) {
		t.Fatalf("round trip: got %v", got)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, ks.Path(), 0o600)
	if m, err := ks.Mode(); err != nil || m != 0o600 {
		t.Fatalf("Mode() = %v, %v", m, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only %s", len(entries), FileName)
	}
}

func TestDirModeTightened(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := New(dir).CheckWritable(); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o700)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("probe left %d files behind", len(entries))
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Fatalf("%s has mode %v, want %v", path, st.Mode().Perm(), want)
	}
}

func TestCheckWritableFails(t *testing.T) {
	// A data dir below a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := New(filepath.Join(file, "data")).CheckWritable(); err == nil {
		t.Fatal("CheckWritable succeeded below a regular file")
	}
}

func TestSaveFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	ks := New(dir)
	// init.json is a non-empty directory: the rename onto it fails.
	if err := os.MkdirAll(filepath.Join(ks.Path(), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := ks.Save(sample()); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("failed Save left temp files: %v", entries)
	}
}

func TestLoadBadFiles(t *testing.T) {
	good := sample()
	future := *good
	future.Version = 99
	noKeys := *good
	noKeys.Keys, noKeys.KeysB64 = nil, nil
	highThreshold := *good
	highThreshold.SecretThreshold = 4
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"empty", "", "truncated JSON"},
		{"truncated", `{"version":1,"keys":["aaaa1111"`, "truncated JSON"},
		{"garbled", `{"version":1,"keys":["aaaa1111"]]]`, "invalid JSON"},
		{"wrong type", `{"version":1,"keys":"aaaa1111"}`, `field "keys" has the wrong type`},
		{"trailing data", mustJSON(good) + `{}`, "trailing data"},
		{"future version", mustJSON(&future), "unknown format version 99"},
		{"no keys", mustJSON(&noKeys), "no unseal keys"},
		{"threshold above keys", mustJSON(&highThreshold), "threshold 4 does not fit 3 keys"},
		{"too large", strings.Repeat(" ", MaxFileSize+1), "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks := New(t.TempDir())
			if err := os.WriteFile(ks.Path(), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ks.Load()
			if err == nil || errors.Is(err, ErrNotFound) {
				t.Fatalf("Load: %v, want a decode error", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, ks.Path()) {
				t.Fatalf("error %q, want it to contain %q and the path", msg, tc.want)
			}
			for _, k := range append(good.Keys, good.RootToken) {
				if strings.Contains(msg, k) {
					t.Fatalf("error leaks a secret: %s", msg)
				}
			}
		})
	}
}

func mustJSON(d *InitData) string { return encode(d) }

func TestUnreadableIsNotNotFound(t *testing.T) {
	ks := New(t.TempDir())
	if err := os.Mkdir(ks.Path(), 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	if _, err := ks.Load(); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of an unreadable keystore: %v, want an error that is not ErrNotFound", err)
	}
}

func TestStringHidesSecrets(t *testing.T) {
	d := sample()
	for _, s := range []string{fmt.Sprint(d), fmt.Sprintf("%v %+v %#v %s", d, d, d, d)} {
		for _, k := range append(d.Keys, d.RootToken) {
			if strings.Contains(s, k) {
				t.Fatalf("printing InitData leaks a secret: %s", s)
			}
		}
	}
}

func TestTryLock(t *testing.T) {
	a := New(t.TempDir())
	b := New(a.Dir())
	unlock, err := a.TryLock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	unlock()
	unlock2, err := b.TryLock()
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
	assertMode(t, filepath.Join(a.Dir(), LockFileName), 0o600)
}

func TestPauseMark(t *testing.T) {
	ks := New(t.TempDir())
	if p, err := ks.Paused(); p != nil || err != nil {
		t.Fatalf("fresh dir paused: %v %v", p, err)
	}
	if err := ks.SetPause("maintenance"); err != nil {
		t.Fatal(err)
	}
	p, err := ks.Paused()
	if err != nil || p == nil || p.Reason != "maintenance" || time.Since(p.Since) > time.Minute {
		t.Fatalf("paused: %+v %v", p, err)
	}
	assertMode(t, filepath.Join(ks.Dir(), PauseFileName), 0o600)
	if err := ks.ClearPause(); err != nil {
		t.Fatal(err)
	}
	if err := ks.ClearPause(); err != nil {
		t.Fatalf("clearing twice: %v", err)
	}
	if p, _ := ks.Paused(); p != nil {
		t.Fatal("still paused")
	}
	os.WriteFile(filepath.Join(ks.Dir(), PauseFileName), []byte("garbage"), 0o600)
	if p, err := ks.Paused(); p == nil || err == nil {
		t.Fatal("an unreadable mark must count as paused, with an error")
	}
}

// TestCheckWritableProbesTheDirectorySync: on a file system that cannot
// fsync a directory, every Save fails. The probe, which runs before
// sys/init, must fail there too, or Vault is initialized with keys that
// cannot be kept.
func TestCheckWritableProbesTheDirectorySync(t *testing.T) {
	restore := atomicfile.FailDirSyncForTest(syscall.EINVAL)
	defer restore()
	if err := New(t.TempDir()).Save(sample()); err == nil {
		t.Fatal("Save succeeded although the directory cannot be synced")
	}
	dir := t.TempDir()
	err := New(dir).CheckWritable()
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("CheckWritable = %v where Save fails, want the directory sync's error", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the failed probe left %d files behind", len(entries))
	}
}
