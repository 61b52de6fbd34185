package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// auditedVault is a real Vault, initialized and unsealed, with the aurora
// kv v2 mount, a file audit device, and a keystore in a data dir that holds
// its root token. It returns the root client, the data dir and the audit log.
func auditedVault(t *testing.T) (*api.Client, string, string) {
	t.Helper()
	srv, resp := vaulttest.StartUnsealed(t, vaulttest.Options{})
	ctx := context.Background()
	root := srv.Client(resp.RootToken)
	if err := root.Sys().MountWithContext(ctx, "aurora", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	if err := root.Sys().EnableAuditWithOptionsWithContext(ctx, "file", &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": auditLog},
	}); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	d := &keystore.InitData{Version: keystore.FormatVersion, SecretShares: 1, SecretThreshold: 1,
		Keys: resp.Keys, KeysB64: resp.KeysB64, RootToken: resp.RootToken}
	if err := keystore.New(dataDir).Save(d); err != nil {
		t.Fatal(err)
	}
	return root, dataDir, auditLog
}

// auditLines counts the audit log's entries.
func auditLines(t *testing.T, path string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(raw), "\n")
}

// TestHealthcheckIsCheap: the container healthcheck runs every 5 s. Each run
// used to list sys/mounts with the root token: two audit entries, about
// 105 MB of audit log a day. Runs within MountCheckEvery add none now.
func TestHealthcheckIsCheap(t *testing.T) {
	clearEnv(t)
	root, dataDir, auditLog := auditedVault(t)
	args := []string{"healthcheck", "--vault-addr", root.Address(), "--data-dir", dataDir}
	run := func() int { return Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}) }
	if code := run(); code != ExitOK {
		t.Fatalf("first healthcheck: exit %d", code)
	}
	after1 := auditLines(t, auditLog)
	for i := 0; i < 10; i++ {
		if code := run(); code != ExitOK {
			t.Fatalf("healthcheck %d: exit %d", i+2, code)
		}
	}
	if grown := auditLines(t, auditLog) - after1; grown != 0 {
		t.Fatalf("10 more healthchecks wrote %d audit entries, want 0", grown)
	}
	// The note lives beside the keys, where only vault-init may write.
	if _, err := os.Stat(filepath.Join(keystore.New(dataDir).Dir(), HealthCacheFile)); err != nil {
		t.Fatalf("no mount-check note beside the keystore: %v", err)
	}
	// status is for a person: it always checks the mount afresh.
	if code := Run(context.Background(), []string{"status", "--vault-addr", root.Address(), "--data-dir", dataDir}, &bytes.Buffer{}, &bytes.Buffer{}); code != ExitOK {
		t.Fatalf("status: exit %d", code)
	}
	if auditLines(t, auditLog) == after1 {
		t.Fatal("status did not check the mount")
	}
}

// TestHealthcheckSeesAMissingMount: the mount is still checked, once its
// last check is older than MountCheckEvery.
func TestHealthcheckSeesAMissingMount(t *testing.T) {
	clearEnv(t)
	root, dataDir, _ := auditedVault(t)
	args := []string{"healthcheck", "--vault-addr", root.Address(), "--data-dir", dataDir}
	if code := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); code != ExitOK {
		t.Fatalf("healthcheck: exit %d", code)
	}
	if err := root.Sys().UnmountWithContext(context.Background(), "aurora"); err != nil {
		t.Fatal(err)
	}
	old := mountCheckEvery
	mountCheckEvery = 0
	t.Cleanup(func() { mountCheckEvery = old })
	if code := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); code != ExitFailure {
		t.Fatalf("healthcheck with the mount gone: exit %d, want %d", code, ExitFailure)
	}
}

// TestHealthcheckSeesASealedVault: a fresh mount-check note never hides a
// sealed Vault: sys/health is asked on every run.
func TestHealthcheckSeesASealedVault(t *testing.T) {
	clearEnv(t)
	root, dataDir, _ := auditedVault(t)
	args := []string{"healthcheck", "--vault-addr", root.Address(), "--data-dir", dataDir}
	if code := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); code != ExitOK {
		t.Fatalf("healthcheck: exit %d", code)
	}
	if err := root.Sys().SealWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); code != ExitFailure {
		t.Fatalf("healthcheck of a sealed Vault: exit %d, want %d", code, ExitFailure)
	}
}
