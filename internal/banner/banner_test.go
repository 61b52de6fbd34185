package banner

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestWriteMatchesSeed(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "hvs.xxxxxxxxxxxxxxxxxxxxxxxxxxxx"); err != nil {
		t.Fatal(err)
	}
	// testdata/banner.golden is the seed document's block, copied by hand.
	golden(t, "banner.golden", b.String())
	if !strings.Contains(b.String(), "Root Token: hvs.xxxxxxxxxxxxxxxxxxxxxxxxxxxx\n") {
		t.Fatal("banner lacks the line that the seed greps for")
	}
}

func TestWriteEmergency(t *testing.T) {
	d := &keystore.InitData{SecretShares: 2, SecretThreshold: 2, Keys: []string{"k1", "k2"}, RootToken: "hvs.t"}
	var b bytes.Buffer
	if err := WriteEmergency(&b, "/vault-init/init.json", d); err != nil {
		t.Fatal(err)
	}
	golden(t, "emergency.golden", b.String())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriteErrors(t *testing.T) {
	if Write(failWriter{}, "t") == nil {
		t.Fatal("Write hid a write error")
	}
	if WriteEmergency(failWriter{}, "p", &keystore.InitData{}) == nil {
		t.Fatal("WriteEmergency hid a write error")
	}
}

func TestWriteEmergencyRecoveryKeys(t *testing.T) {
	d := &keystore.InitData{SealType: "transit", RecoveryShares: 2, RecoveryThreshold: 2,
		RecoveryKeys: []string{"r1", "r2"}, RootToken: "hvs.t"}
	var b bytes.Buffer
	if err := WriteEmergency(&b, "/vault-init/init.json", d); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Recovery Key 1: r1\n", "Recovery Key 2: r2\n", "Initial Root Token: hvs.t\n", "Seal: transit. Threshold: 2 of 2 recovery keys."} {
		if !strings.Contains(out, want) {
			t.Fatalf("emergency block lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteSetup(t *testing.T) {
	var seed, plain bytes.Buffer
	if err := Write(&seed, "hvs.root"); err != nil {
		t.Fatal(err)
	}
	if err := WriteSetup(&plain, Setup{Root: "hvs.root"}); err != nil {
		t.Fatal(err)
	}
	if plain.String() != seed.String() {
		t.Fatalf("without an app token the banner must be the seed's:\n%s", plain.String())
	}
	var b bytes.Buffer
	if err := WriteSetup(&b, Setup{Root: "hvs.root", App: "hvs.app"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "setup-app.golden", b.String())
	b.Reset()
	if err := WriteSetup(&b, Setup{RootRevoked: true, App: "hvs.app"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "setup-revoked.golden", b.String())
	if strings.Contains(b.String(), "hvs.root") || !strings.Contains(b.String(), "Set VAULT_TOKEN=hvs.app in") {
		t.Fatalf("revoked-root banner:\n%s", b.String())
	}
	b.Reset()
	if err := WriteAppToken(&b, "hvs.app2"); err != nil {
		t.Fatal(err)
	}
	golden(t, "app-token.golden", b.String())
}

// TestWriteKept: on Kubernetes the banner says where the tokens are and
// how to read them; it has no token to print.
func TestWriteKept(t *testing.T) {
	var b strings.Builder
	if err := WriteKept(&b, Kept{Where: "secret vault/vault-keys key init.json", Pod: "vault-0", App: true}); err != nil {
		t.Fatal(err)
	}
	want := rule + "\nVault initialization complete!\n" +
		"Root Token: kept in secret vault/vault-keys key init.json, not printed: pod logs reach the cluster's log collector. " +
		"Read it with: kubectl exec vault-0 -c vault-init -- vault-init root-token\n" +
		"App Token: kept beside the keys, not printed. Read it with: kubectl exec vault-0 -c vault-init -- vault-init app-token\n" + rule + "\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteKept(&b, Kept{Where: "x", Pod: "vault-1", RootRevoked: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Root Token: revoked after setup") || strings.Contains(b.String(), "App Token") {
		t.Fatalf("revoked root, no app token:\n%s", b.String())
	}
}
