package vaulttest

import (
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
)

// AssertNoSecrets fails the test if text holds any unseal or recovery key
// (hex or base64) or the root token of data. Use it on every captured log.
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
