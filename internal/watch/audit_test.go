package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestAuditDevice: VAULT_INIT_AUDIT enables a file audit device once; a
// restart writes nothing more, and Vault really audits to the file.
func TestAuditDevice(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "audit.log")
	h := run(t, srv, dataDir, setup{audit: logFile})
	h.Wait("ready", 60*time.Second, isReady)
	if !strings.Contains(h.Logs.String(), `"enabled_now":true`) {
		t.Fatalf("no audit device enabled:\n%s", h.Logs.String())
	}
	h.Stop()
	root := srv.Client(h.Keys().RootToken)
	h2 := run(t, srv, dataDir, setup{audit: logFile})
	h2.Wait("ready", 30*time.Second, isReady)
	if !strings.Contains(h2.Logs.String(), `"enabled_now":false`) {
		t.Fatalf("restart enabled the audit device again:\n%s", h2.Logs.String())
	}
	devices, err := root.Sys().ListAuditWithContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(devices) != 1 {
		t.Fatalf("%d audit devices, want 1: %v", len(devices), devices)
	}
	if _, err := root.KVv2("aurora").Put(context.Background(), "users/x", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(raw), "aurora/data/users/x") {
		t.Fatalf("the audit log does not record the write: %v", err)
	}
}
