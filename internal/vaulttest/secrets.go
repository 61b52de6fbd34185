package vaulttest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
)

// AssertNoSecrets fails the test if text holds any unseal or recovery key
// (hex or base64), a pending rekey's new key, or the root token of data. Use it on every captured log.
// A nil data fails too: a scan without the secrets to look for proves
// nothing, and a keystore that does not load is exactly the case to catch.
func AssertNoSecrets(t testing.TB, what, text string, data *keystore.InitData) {
	t.Helper()
	if data == nil {
		t.Fatalf("cannot scan %s for secrets: no keystore data to scan for", what)
	}
	secrets := append([]string{data.RootToken}, data.Keys...)
	secrets = append(secrets, data.KeysB64...)
	secrets = append(secrets, data.RecoveryKeys...)
	secrets = append(secrets, data.RecoveryKeysB64...)
	if data.Pending != nil {
		secrets = append(secrets, data.Pending.Keys...)
		secrets = append(secrets, data.Pending.KeysB64...)
	}
	if len(secrets) == 1 && data.RootToken == "" {
		t.Fatalf("cannot scan %s for secrets: the keystore data holds none", what)
	}
	for i, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%s contains secret #%d (a key share or the root token)", what, i)
		}
	}
}

// WithoutBanner drops the banner's token lines (the deliberate exception:
// the root or app token, for .env) from a program's stdout, so that the
// rest can be scanned with AssertNoSecrets.
func WithoutBanner(stdout string) string {
	var keep []string
	for _, l := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(l, "Root Token: ") && !strings.HasPrefix(l, "App Token: ") && !strings.HasPrefix(l, "IMPORTANT: Set VAULT_TOKEN=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// SecretsToScan returns what a secret scan of vault-init's output looks
// for: the keys and root token of the keystore in dataDir, its app token,
// and the secrets the test named (known; given says that it named them,
// maybe none). A keystore that exists and does not load, or none after
// vault-init got keys from sys/init (gotKeys), is an error unless the test
// named the secrets: a scan must never pass for want of anything to look
// for. With no dataDir, only known is looked for.
func SecretsToScan(dataDir string, known []*keystore.InitData, given, gotKeys bool) ([]*keystore.InitData, error) {
	if dataDir == "" {
		return known, nil
	}
	var out []*keystore.InitData
	d, err := keystore.New(dataDir).Load()
	switch {
	case err == nil:
		out = append(append(out, known...), d)
	case given:
		out = append(out, known...)
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("the keystore does not load, so the scan would look for nothing (name the secrets with Knows): %w", err)
	case gotKeys:
		return nil, errors.New("vault-init got keys from sys/init and the keystore has none: the scan cannot know them (name them with Knows)")
	}
	if app, err := keystore.New(dataDir).LoadAppToken(); err == nil {
		out = append(out, &keystore.InitData{RootToken: app})
	}
	return out, nil
}

// GotKeys reports whether vault-init's logs (JSON or console) show that
// sys/init answered it with keys.
func GotKeys(logs string) bool {
	for _, s := range []string{"FAULTINJECT after-init-reply", "unseal keys and root token saved", "could not save the unseal keys", "vault initialized"} {
		if strings.Contains(logs, s) {
			return true
		}
	}
	return false
}
