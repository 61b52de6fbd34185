package watchtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// Scan is what the secret scan reads: what vault-init wrote, and where its
// secrets are.
type Scan struct {
	DataDir           string // its keystore and app token
	Logs, ErrOut, Out string
	Events            string // every event, rendered
	// Known are secrets the test made itself; KnownGiven says the test
	// named them (maybe none), so that an unreadable keystore is expected.
	Known      []*keystore.InitData
	KnownGiven bool
	// GotKeys says that sys/init answered vault-init with keys (an
	// Initialized or SaveFailed event); the logs are also read for it.
	GotKeys bool
}

// AssertNoSecrets checks the logs, stderr, the events and stdout (less the
// banner's token lines) against every secret of the keystore and those the test
// named: unseal and recovery keys, in hex and base64, and the root and app
// tokens. A scan that cannot know the secrets fails rather than pass.
func AssertNoSecrets(t testing.TB, s Scan) {
	t.Helper()
	secrets, err := s.secrets()
	if err != nil {
		t.Errorf("secret scan: %v", err)
		return
	}
	if app, err := keystore.New(s.DataDir).LoadAppToken(); err == nil {
		secrets = append(secrets, &keystore.InitData{RootToken: app})
	}
	for _, d := range secrets {
		vaulttest.AssertNoSecrets(t, "the logs", s.Logs, d)
		vaulttest.AssertNoSecrets(t, "stderr", s.ErrOut, d)
		vaulttest.AssertNoSecrets(t, "the events", s.Events, d)
		vaulttest.AssertNoSecrets(t, "stdout, less the banner's token lines", vaulttest.WithoutBanner(s.Out), d)
	}
}

// secrets returns what the scan looks for. A keystore that exists and does
// not load, or none after vault-init got keys from sys/init, is an error
// unless the test named the secrets itself.
func (s Scan) secrets() ([]*keystore.InitData, error) {
	d, err := keystore.New(s.DataDir).Load()
	switch {
	case err == nil:
		return append(s.Known, d), nil
	case s.KnownGiven:
		return s.Known, nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("the keystore does not load, so the scan would look for nothing (name the secrets with Knows): %w", err)
	case s.GotKeys || gotKeys(s.Logs):
		return nil, errors.New("vault-init got keys from sys/init and the keystore has none: the scan cannot know them (name them with Knows)")
	}
	return nil, nil
}

// gotKeys reports whether logs show that sys/init answered with keys.
func gotKeys(logs string) bool {
	for _, s := range []string{`"msg":"vault initialized"`, "unseal keys and root token saved", "could not save the unseal keys"} {
		if strings.Contains(logs, s) {
			return true
		}
	}
	return false
}
