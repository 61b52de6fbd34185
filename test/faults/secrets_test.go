//go:build faultinject

package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// knows names secrets the test has and the keystore may not: the keys of
// a keystore the test garbles, or an init reply the proxy saw before a
// crash. With no argument it says there are none to find.
func (p *proc) knows(d ...*keystore.InitData) {
	p.known, p.knownGiven = append(p.known, d...), true
}

// assertNoSecrets scans the process's output: stderr for every key share,
// recovery key (hex and base64) and the root token; stdout the same, but
// for the root token in the banner, its one deliberate place.
func (p *proc) assertNoSecrets(t testing.TB) {
	t.Helper()
	secrets, err := secretsOf(p.dir, p.stderr.String(), p.known, p.knownGiven)
	if err != nil {
		t.Errorf("secret scan of vault-init's output: %v", err)
		return
	}
	for _, d := range secrets {
		vaulttest.AssertNoSecrets(t, "vault-init's stderr", p.stderr.String(), d)
		vaulttest.AssertNoSecrets(t, "vault-init's stdout, less the banner", vaulttest.WithoutBanner(p.stdout.String()), d)
	}
}

// secretsOf returns what a scan looks for: the keystore in dir and the
// secrets the test named. A keystore that exists and does not load, or
// none after vault-init got keys (its stderr says so), is an error unless
// the test named the secrets: a scan must never pass for want of anything
// to look for.
func secretsOf(dir, stderr string, known []*keystore.InitData, given bool) ([]*keystore.InitData, error) {
	d, err := keystore.New(dir).Load()
	switch {
	case err == nil:
		return append(known, d), nil
	case given:
		return known, nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("the keystore does not load, so the scan would look for nothing (name the secrets with knows): %w", err)
	case gotKeys(stderr):
		return nil, errors.New("vault-init got keys from sys/init and the keystore has none: the scan cannot know them (name them with knows)")
	}
	return nil, nil
}

// gotKeys reports whether vault-init's stderr shows that sys/init answered.
func gotKeys(stderr string) bool {
	for _, s := range []string{"FAULTINJECT after-init-reply", "unseal keys and root token saved", "could not save the unseal keys", "vault initialized"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// TestSecretScanCanFail: the scan that ends every run fails when it cannot
// know the secrets, instead of passing for want of anything to look for;
// and only the banner's token lines are taken out of stdout.
func TestSecretScanCanFail(t *testing.T) {
	garbled := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbled, keystore.FileName), []byte(`{"version":1,"keys":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	named := &keystore.InitData{RootToken: "hvs.named"}
	cases := []struct {
		name, dir, stderr string
		known             []*keystore.InitData
		given, fails      bool
		want              int // secrets to scan for
	}{
		{"garbled keystore", garbled, "", nil, false, true, 0},
		{"garbled keystore, secrets named", garbled, "", []*keystore.InitData{named}, true, false, 1},
		{"garbled keystore, none to find", garbled, "", nil, true, false, 0},
		{"keystore gone after the init reply", t.TempDir(), "FAULTINJECT after-init-reply kill 1", nil, false, true, 0},
		{"keystore gone after a save", t.TempDir(), `INFO unseal keys and root token saved`, nil, false, true, 0},
		{"never initialized", t.TempDir(), "vault does not answer yet", nil, false, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secretsOf(tc.dir, tc.stderr, tc.known, tc.given)
			if (err != nil) != tc.fails || len(got) != tc.want {
				t.Fatalf("secretsOf: %d secrets, error %v; want %d, failure %v", len(got), err, tc.want, tc.fails)
			}
		})
	}
	stdout := "=====\nVault initialization complete!\nRoot Token: hvs.x\nIMPORTANT: Set VAULT_TOKEN=hvs.x in your .env file\n=====\nhvs.y\n"
	if got := vaulttest.WithoutBanner(stdout); strings.Contains(got, "hvs.x") || !strings.Contains(got, "hvs.y") {
		t.Fatalf("withoutBanner kept %q", got)
	}
}
