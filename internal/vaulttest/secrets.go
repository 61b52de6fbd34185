package vaulttest

import (
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
)

// AssertNoSecrets fails the test if text holds any unseal key (hex or
// base64) or the root token of data. Use it on every captured log.
func AssertNoSecrets(t testing.TB, what, text string, data *keystore.InitData) {
	t.Helper()
	if data == nil {
		return
	}
	secrets := append(append([]string{data.RootToken}, data.Keys...), data.KeysB64...)
	for i, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%s contains secret #%d (a key share or the root token)", what, i)
		}
	}
}
