package testkit

import (
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// Knows names secrets the test has and the keystore in Options.ScanDir may
// not: the keys of a keystore the test garbles, or an init reply a Proxy
// saw before a crash. With no argument it says there are none to find.
func (p *Proc) Knows(d ...*keystore.InitData) {
	p.known, p.given = append(p.known, d...), true
}

// AssertNoSecrets scans the process's output so far, as the scan at the
// end of a test with Options.ScanDir does: stderr for every key share,
// recovery key (hex and base64) and the root token of the keystore in
// ScanDir and of the secrets named with Knows; stdout the same, but for the
// root token in the banner, its one deliberate place. It fails the test
// when it cannot know what to look for (see vaulttest.SecretsToScan), and on a Proc
// with neither ScanDir nor Knows.
func (p *Proc) AssertNoSecrets() {
	p.t.Helper()
	if p.scan == "" && !p.given {
		p.t.Errorf("secret scan of vault-init's output: no ScanDir and no secrets named with Knows")
		return
	}
	stderr := p.Stderr.String()
	secrets, err := vaulttest.SecretsToScan(p.scan, p.known, p.given, vaulttest.GotKeys(stderr))
	if err != nil {
		p.t.Errorf("secret scan of vault-init's output: %v", err)
		return
	}
	for _, d := range secrets {
		vaulttest.AssertNoSecrets(p.t, "vault-init's stderr", stderr, d)
		vaulttest.AssertNoSecrets(p.t, "vault-init's stdout, less the banner", vaulttest.WithoutBanner(p.Stdout.String()), d)
	}
}
