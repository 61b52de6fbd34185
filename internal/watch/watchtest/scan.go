package watchtest

import (
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
	secrets, err := vaulttest.SecretsToScan(s.DataDir, s.Known, s.KnownGiven, s.GotKeys || vaulttest.GotKeys(s.Logs))
	if err != nil {
		t.Errorf("secret scan: %v", err)
		return
	}
	for _, d := range secrets {
		vaulttest.AssertNoSecrets(t, "the logs", s.Logs, d)
		vaulttest.AssertNoSecrets(t, "stderr", s.ErrOut, d)
		vaulttest.AssertNoSecrets(t, "the events", s.Events, d)
		vaulttest.AssertNoSecrets(t, "stdout, less the banner's token lines", vaulttest.WithoutBanner(s.Out), d)
	}
}
