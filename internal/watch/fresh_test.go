package watch_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// The kv mount's requests, as the api client sends them.
const listMounts, createMount = "/v1/sys/mounts", "/v1/sys/mounts/aurora"

// TestMountAtOnceOnAFreshVault: a Vault this run initialized has only the
// built-in mounts, so the first start creates the kv mount without listing
// the mounts first (one request, not two). A restart, on a Vault it did not
// initialize, lists them and, the mount being there, creates nothing.
func TestMountAtOnceOnAFreshVault(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := testkit.NewProxy(t, srv.Addr())
	dataDir := t.TempDir()
	h := runAt(t, px.Addr(), dataDir)
	h.Wait("ready", 60*time.Second, isReady)
	// Ready follows the mount, and nothing after it lists the mounts (no
	// app token to renew): a GET now would have come before the create.
	if n := px.Count(http.MethodPost, createMount); n != 1 {
		t.Fatalf("first start: %d mount creations, want 1", n)
	}
	if n := px.Count(http.MethodGet, listMounts); n != 0 {
		t.Fatalf("first start: the mounts listed %d times on a Vault this run initialized, want 0", n)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}

	h2 := runAt(t, px.Addr(), dataDir)
	h2.Wait("ready", 30*time.Second, isReady)
	if n := px.Count(http.MethodGet, listMounts); n != 1 {
		t.Fatalf("restart: the mounts listed %d times, want 1", n)
	}
	if n := px.Count(http.MethodPost, createMount) - 1; n != 0 {
		t.Fatalf("restart: %d mount creations, want 0", n)
	}
	assertKVv2(t, srv.Client(h.Keys().RootToken))
}
