package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestSecretScanCanFail: the scan that ends a run with ScanDir fails when
// it cannot know the secrets, instead of passing for want of anything to
// look for; and only the banner's token lines are taken out of stdout.
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
			got, err := vaulttest.SecretsToScan(tc.dir, tc.known, tc.given, vaulttest.GotKeys(tc.stderr))
			if (err != nil) != tc.fails || len(got) != tc.want {
				t.Fatalf("SecretsToScan: %d secrets, error %v; want %d, failure %v", len(got), err, tc.want, tc.fails)
			}
		})
	}
	stdout := "=====\nVault initialization complete!\nRoot Token: hvs.x\nIMPORTANT: Set VAULT_TOKEN=hvs.x in your .env file\n=====\nhvs.y\n"
	if got := vaulttest.WithoutBanner(stdout); strings.Contains(got, "hvs.x") || !strings.Contains(got, "hvs.y") {
		t.Fatalf("withoutBanner kept %q", got)
	}
}
