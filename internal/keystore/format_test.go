package keystore_test

import (
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/aurora/vault-init/internal/keystore"
)

// testdata/format-v1 was written by vault-init before keystore.Store
// existed (c002a90): its init.json and init.json.age (with the test age
// identity beside them) still load, and the files a Save writes now are
// byte for byte the old plaintext format.
func TestFormatV1StillLoads(t *testing.T) {
	fixture := filepath.Join("testdata", "format-v1")
	ids := readIdentity(t, filepath.Join(fixture, "age.key"))
	for _, tc := range []struct {
		name, file string
		keys       func(dir string) *keystore.File
	}{
		{"plaintext", keystore.FileName, keystore.New},
		{"age", keystore.AgeFileName, func(dir string) *keystore.File { return keystore.New(dir).WithAge(nil, ids) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			raw, err := os.ReadFile(filepath.Join(fixture, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tc.file), raw, 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := tc.keys(dir).Load()
			if err != nil {
				t.Fatalf("Load the old %s: %v", tc.file, err)
			}
			if d.SecretThreshold != 2 || len(d.Keys) != 3 || d.Keys[0] != "aa01" || d.RootToken != "hvs.fixture-not-a-real-token" || len(d.PendingRevoke) != 1 {
				t.Fatalf("loaded %v: not the fixture's data", d)
			}
			if tc.name != "plaintext" {
				return
			}
			// Saving the same data writes the same bytes as before.
			out := t.TempDir()
			if err := keystore.New(out).Save(d); err != nil {
				t.Fatal(err)
			}
			now, err := os.ReadFile(filepath.Join(out, keystore.FileName))
			if err != nil || string(now) != string(raw) {
				t.Fatalf("init.json written now differs from the old format:\n%s\nwant:\n%s", now, raw)
			}
		})
	}
}

func readIdentity(t *testing.T, path string) []age.Identity {
	t.Helper()
	_, ids, err := keystore.ParseAge("", path)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
