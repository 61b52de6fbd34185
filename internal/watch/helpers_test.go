package watch_test

import (
	"context"
	"os"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
)

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Fatalf("%s has mode %04o, want %04o", path, st.Mode().Perm(), want)
	}
}

func mounts(t *testing.T, c *api.Client) map[string]*api.MountOutput {
	t.Helper()
	m, err := c.Sys().ListMountsWithContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func assertKVv2(t *testing.T, c *api.Client) {
	t.Helper()
	m := mounts(t, c)["aurora/"]
	if m == nil || m.Type != "kv" || m.Options["version"] != "2" {
		t.Fatalf("aurora/ is %+v, want kv version 2", m)
	}
}

// remount replaces aurora/ with a mount of the given kind.
func remount(t *testing.T, c *api.Client, in *api.MountInput) {
	t.Helper()
	ctx := context.Background()
	if err := c.Sys().UnmountWithContext(ctx, "aurora"); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().MountWithContext(ctx, "aurora", in); err != nil {
		t.Fatal(err)
	}
}

// keystoreOf wraps an init response made by a test, for AssertNoSecrets.
type keystoreOf struct{ resp *api.InitResponse }

func (k *keystoreOf) data() *keystore.InitData {
	return &keystore.InitData{Keys: k.resp.Keys, KeysB64: k.resp.KeysB64, RootToken: k.resp.RootToken,
		RecoveryKeys: k.resp.RecoveryKeys, RecoveryKeysB64: k.resp.RecoveryKeysB64}
}
