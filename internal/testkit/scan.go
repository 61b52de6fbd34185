package testkit

import (
	"errors"
	"fmt"
	"strings"

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
// when it cannot know what to look for (see secretsOf), and on a Proc
// with neither ScanDir nor Knows.
func (p *Proc) AssertNoSecrets() {
	p.t.Helper()
	if p.scan == "" && !p.given {
		p.t.Errorf("secret scan of vault-init's output: no ScanDir and no secrets named with Knows")
		return
	}
	stderr := p.Stderr.String()
	secrets, err := secretsOf(p.scan, stderr, p.known, p.given)
	if err != nil {
		p.t.Errorf("secret scan of vault-init's output: %v", err)
		return
	}
	for _, d := range secrets {
		vaulttest.AssertNoSecrets(p.t, "vault-init's stderr", stderr, d)
		vaulttest.AssertNoSecrets(p.t, "vault-init's stdout, less the banner", vaulttest.WithoutBanner(p.Stdout.String()), d)
	}
}

// secretsOf returns what a scan looks for: the keystore in dir and the
// secrets the test named. A keystore that exists and does not load, or
// none after vault-init got keys (its stderr says so), is an error unless
// the test named the secrets: a scan must never pass for want of anything
// to look for.
func secretsOf(dir, stderr string, known []*keystore.InitData, given bool) ([]*keystore.InitData, error) {
	if dir == "" {
		return known, nil // AssertNoSecrets asks for Knows then
	}
	d, err := keystore.New(dir).Load()
	switch {
	case err == nil:
		return append(known, d), nil
	case given:
		return known, nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("the keystore does not load, so the scan would look for nothing (name the secrets with Knows): %w", err)
	case gotKeys(stderr):
		return nil, errors.New("vault-init got keys from sys/init and the keystore has none: the scan cannot know them (name them with Knows)")
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
