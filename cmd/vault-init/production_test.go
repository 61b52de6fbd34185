package main_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// newAgeIdentity writes a fresh age identity file and returns it with its
// recipient.
func newAgeIdentity(t *testing.T) (idFile, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile = filepath.Join(t.TempDir(), "vault-init-age.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return idFile, id.Recipient().String()
}

// loadAge loads an encrypted keystore with its identity.
func loadAge(t *testing.T, dataDir, recipient, idFile string) *keystore.InitData {
	t.Helper()
	rs, ids, err := keystore.ParseAge(recipient, idFile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := keystore.New(dataDir).WithAge(rs, ids).Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEncryptedKeystore(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	idFile, recipient := newAgeIdentity(t)
	base := []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir, "VAULT_INIT_AGE_RECIPIENT=" + recipient}
	env := append(base, "VAULT_INIT_AGE_IDENTITY_FILE="+idFile)

	p := start(t, env)
	p.WaitEvent(events.Ready, 60*time.Second)
	p.Stop(os.Interrupt, "while ready, with an encrypted keystore")
	data := loadAge(t, dataDir, recipient, idFile)
	if _, err := os.Stat(filepath.Join(dataDir, keystore.FileName)); !os.IsNotExist(err) {
		t.Fatalf("a plaintext init.json exists: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, keystore.AgeFileName))
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.AssertNoSecrets(t, "init.json.age", string(raw), data)
	if code, out, _ := runCmd(t, env, "status"); code != 0 || !strings.Contains(out, "encrypted    yes") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, env, "root-token"); code != 0 || out != data.RootToken+"\n" {
		t.Fatalf("root-token: exit %d", code)
	}

	t.Run("without the identity: neither unseal nor init", func(t *testing.T) {
		if err := srv.Client(data.RootToken).Sys().SealWithContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		p := start(t, base)
		p.WaitFor("no identity to decrypt it is configured", 30*time.Second)
		time.Sleep(time.Second)
		if h := srv.Health(); !h.Sealed || !h.Initialized {
			t.Fatalf("health without the identity: %+v", h)
		}
		if strings.Contains(p.Stderr.String(), "initializing vault") {
			t.Fatal("vault-init tried to initialize")
		}
		if code, out, _ := runCmd(t, base, "status"); code != 1 || !strings.Contains(out, "unusable") {
			t.Fatalf("status without the identity: exit %d\n%s", code, out)
		}
		p.Stop(os.Interrupt, "while the keystore cannot be decrypted")
		if !bytes.Equal(raw, mustRead(t, filepath.Join(dataDir, keystore.AgeFileName))) {
			t.Fatal("the encrypted keystore changed")
		}
		vaulttest.AssertNoSecrets(t, "the logs", p.Stdout.String()+p.Stderr.String(), data)
	})
	t.Run("identity back: unsealed", func(t *testing.T) {
		p := start(t, env)
		p.WaitEvent(events.Ready, 30*time.Second)
		if h := srv.Health(); h.Sealed {
			t.Fatal("still sealed")
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestPlaintextKeystoreMigration(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	plain := []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
	p := start(t, plain)
	p.WaitEvent(events.Ready, 60*time.Second)
	p.Stop(os.Interrupt, "while ready")
	data, err := keystore.New(dataDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	idFile, recipient := newAgeIdentity(t)
	seal := func() {
		if err := srv.Client(data.RootToken).Sys().SealWithContext(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("recipient without identity: kept as plaintext, still unseals", func(t *testing.T) {
		seal()
		p := start(t, append(plain, "VAULT_INIT_AGE_RECIPIENT="+recipient))
		p.WaitFor("kept as plaintext", 30*time.Second)
		p.WaitEvent(events.Ready, 30*time.Second)
		if _, err := os.Stat(filepath.Join(dataDir, keystore.AgeFileName)); !os.IsNotExist(err) {
			t.Fatal("an encrypted copy was written without an identity")
		}
	})
	t.Run("with identity: encrypted, plaintext removed", func(t *testing.T) {
		seal()
		p := start(t, append(plain, "VAULT_INIT_AGE_RECIPIENT="+recipient, "VAULT_INIT_AGE_IDENTITY_FILE="+idFile))
		p.WaitFor("encrypted the plaintext keystore with age", 30*time.Second)
		p.WaitEvent(events.Ready, 30*time.Second)
		if _, err := os.Stat(filepath.Join(dataDir, keystore.FileName)); !os.IsNotExist(err) {
			t.Fatal("plaintext init.json survived")
		}
		if got := loadAge(t, dataDir, recipient, idFile); !got.Equal(data) {
			t.Fatal("the encrypted keystore differs from the plaintext one")
		}
	})
	t.Run("age turned off again: refused, not re-initialized", func(t *testing.T) {
		seal()
		p := start(t, plain)
		p.WaitFor("no identity to decrypt it is configured", 30*time.Second)
		if srv.Health().Sealed != true {
			t.Fatal("unsealed without the identity")
		}
	})
}

// TestAppTokenAndRevokedRootThroughTheBinary: the production settings as an
// operator sets them, and the commands that go with them.
func TestAppTokenAndRevokedRootThroughTheBinary(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	env := []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir,
		"VAULT_INIT_APP_TOKEN=true", "VAULT_INIT_REVOKE_ROOT=true"}
	p := start(t, env)
	p.WaitEvent(events.Ready, 60*time.Second)
	p.Stdout.WaitFor(t, "=====\n", 5*time.Second)
	code, app, _ := runCmd(t, env, "app-token")
	app = strings.TrimSpace(app)
	if code != 0 || !strings.HasPrefix(app, "hvs.") || !strings.Contains(p.Stdout.String(), "IMPORTANT: Set VAULT_TOKEN="+app+" in your .env file") {
		t.Fatalf("app-token: exit %d; banner:\n%s", code, p.Stdout.String())
	}
	if code, _, errOut := runCmd(t, env, "root-token"); code != 1 || !strings.Contains(errOut, "revoked after setup") {
		t.Fatalf("root-token with the root revoked: exit %d: %s", code, errOut)
	}
	// The container healthcheck still works: the app token sees the mount.
	if code, out, _ := runCmd(t, env, "status"); code != 0 || !strings.Contains(out, "Mount        aurora/ is kv version 2") ||
		!strings.Contains(out, "root token   revoked after setup") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, env, "healthcheck"); code != 0 {
		t.Fatalf("healthcheck: exit %d", code)
	}
	if strings.Contains(p.Stderr.String(), app) {
		t.Fatal("the logs hold the app token")
	}
}
