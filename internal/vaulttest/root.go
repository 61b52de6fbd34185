package vaulttest

import (
	"os"
	"testing"
)

// RequireRoot skips a test that needs root (what says for what) when it
// runs as another user, and fails it instead when CI is set: under CI a
// skip must never count as a pass. (internal/keystore's own tests keep a
// copy: this package imports keystore.)
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s needs root; CI is set, so this fails instead of skipping", what)
	}
	t.Skipf("%s needs root (under CI this is a failure)", what)
}
