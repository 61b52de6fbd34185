package watch_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestFirstStartThenRestart is the seed's main flow: the first start
// initializes Vault, saves the keys, unseals, mounts aurora as KV v2 and
// prints the banner; a restart does none of the one-time work. A proxy
// between vault-init and Vault counts the sys/init attempts, failed ones
// too (an Initialized event counts only the one that succeeded).
func TestFirstStartThenRestart(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := testkit.NewProxy(t, srv.Addr())
	dataDir := filepath.Join(t.TempDir(), "vault-init")
	h := runAt(t, px.Addr(), dataDir)
	h.Wait("ready", 60*time.Second, isReady)
	if n := px.Count(http.MethodPut, "/v1/sys/init"); n != 1 {
		t.Fatalf("%d sys/init requests on the first start, want 1", n)
	}
	h.Out.WaitFor(t, "=====\n", 5*time.Second) // the banner is written in one piece, after ready's mount

	data := h.Keys()
	if len(data.Keys) != 5 || len(data.KeysB64) != 5 || data.SecretThreshold != 3 || data.RootToken == "" {
		t.Fatalf("keystore: %v", data)
	}
	assertMode(t, dataDir, 0o700)
	assertMode(t, initJSON(dataDir), 0o600)

	// The banner is the seed's, with the real token.
	banner := strings.ReplaceAll(h.Out.String(), data.RootToken, "hvs.<masked>")
	want := readFile(t, filepath.Join("testdata", "banner.golden"))
	if banner != string(want) {
		t.Fatalf("banner:\n%s\nwant:\n%s", banner, want)
	}
	// The printed token works.
	root := srv.Client(data.RootToken)
	self, err := root.Auth().Token().LookupSelfWithContext(context.Background())
	if err != nil {
		t.Fatalf("lookup-self with the banner's token: %v", err)
	}
	if pol, _ := self.TokenPolicies(); len(pol) != 1 || pol[0] != "root" {
		t.Fatalf("banner token policies %v, want [root]", pol)
	}
	assertKVv2(t, root)
	if h := srv.Health(); !h.Initialized || h.Sealed || h.Standby {
		t.Fatalf("health after first start: %+v", h)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Run returned %v on shutdown", err)
	}
	before := readFile(t, initJSON(dataDir))

	// Restart vault-init (Vault keeps running): no second init, no banner.
	h2 := runAt(t, px.Addr(), dataDir)
	h2.Wait("ready", 30*time.Second, isReady)
	if h2.Out.String() != "" {
		t.Fatalf("restart printed to stdout:\n%s", h2.Out.String())
	}
	if n := px.Count(http.MethodPut, "/v1/sys/init") - 1; n != 0 {
		t.Fatalf("restart sent %d sys/init requests", n)
	}
	if !strings.Contains(h2.Logs.String(), "already initialized") || !strings.Contains(h2.Logs.String(), "vault-init root-token") {
		t.Fatalf("restart did not say how to show the token again:\n%s", h2.Logs.String())
	}
	if !bytes.Equal(before, readFile(t, initJSON(dataDir))) {
		t.Fatal("restart changed init.json")
	}
	if !strings.Contains(h2.Logs.String(), `"action":"unchanged"`) {
		t.Fatalf("restart wrote to the mount:\n%s", h2.Logs.String())
	}
}

// TestResealed covers the two ways Vault gets sealed again: killed and
// restarted, and sealed through the API.
func TestResealed(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	h := run(t, srv, dataDir, setup{})
	h.Wait("ready", 60*time.Second, isReady)
	data := h.Keys()

	t.Run("killed and restarted", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			srv.Kill()
			srv.Restart() // returns once the listener accepts connections
			took := srv.WaitFor("unseal after restart", 30*time.Second, vaulttest.Unsealed)
			t.Logf("restart %d: unsealed %v after the listener answered (2 × check-interval is %v)", i, took, 2*interval)
			// Vault may answer "unsealed" before vault-init has read the reply
			// to its last key: wait for its log line before the next kill.
			h.WaitCount("unsealed", 2+i, 10*time.Second, isUnsealed)
		}
	})
	t.Run("sealed through the API", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if err := srv.Client(data.RootToken).Sys().SealWithContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			took := srv.WaitFor("unseal after sys/seal", 30*time.Second, vaulttest.Unsealed)
			t.Logf("seal %d: unsealed %v after sys/seal", i, took)
			h.WaitCount("unsealed", 5+i, 10*time.Second, isUnsealed)
		}
	})
	if n := h.Events.Count(isUnsealed); n < 7 {
		t.Fatalf("%d unseals logged, want one for the first start and one per reseal (7)", n)
	}
	if n := h.Events.Count(isInit); n != 1 {
		t.Fatalf("%d inits, want 1", n)
	}
	assertKVv2(t, srv.Client(data.RootToken))
}

// TestUnsealProgressLeftBehind: someone submitted a share (a good one, or a
// foreign one) and walked away. vault-init still unseals.
func TestUnsealProgressLeftBehind(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	h := run(t, srv, dataDir, setup{})
	h.Wait("ready", 60*time.Second, isReady)
	data := h.Keys()
	h.Stop()

	foreign := make([]byte, 33) // the length of a real share
	rand.Read(foreign)
	for _, tc := range []struct{ name, share string }{
		{"one of the stored keys", data.Keys[4]},
		{"a foreign share", hex.EncodeToString(foreign)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.Client(data.RootToken)
			if err := c.Sys().SealWithContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			st, err := c.Sys().UnsealWithContext(context.Background(), tc.share)
			if err != nil || st.Progress != 1 {
				t.Fatalf("manual unseal: %+v, %v", st, err)
			}
			h := run(t, srv, dataDir, setup{})
			srv.WaitFor("unseal", 30*time.Second, vaulttest.Unsealed)
			h.Wait("ready", 30*time.Second, isReady)
		})
	}
}

// TestExistingMounts: a KV v1 mount is upgraded, another engine is left alone.
func TestExistingMounts(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	h := run(t, srv, dataDir, setup{})
	h.Wait("ready", 60*time.Second, isReady)
	h.Stop()
	root := srv.Client(h.Keys().RootToken)
	ctx := context.Background()

	t.Run("kv v1 is upgraded", func(t *testing.T) {
		remount(t, root, &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}})
		if _, err := root.Logical().WriteWithContext(ctx, "aurora/users/old", map[string]any{"value": "kept"}); err != nil {
			t.Fatal(err)
		}
		h := run(t, srv, dataDir, setup{})
		h.Wait("ready", 30*time.Second, isReady)
		if !strings.Contains(h.Logs.String(), `"action":"upgraded"`) {
			t.Fatalf("no upgrade logged:\n%s", h.Logs.String())
		}
		assertKVv2(t, root)
		// The upgrade runs in the background inside Vault; the secret
		// written under v1 becomes readable through the v2 API.
		deadline := time.Now().Add(30 * time.Second)
		for {
			s, err := root.KVv2("aurora").Get(ctx, "users/old")
			if err == nil && s.Data["value"] == "kept" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("v1 secret not readable through v2 after the upgrade: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("another engine is left alone", func(t *testing.T) {
		remount(t, root, &api.MountInput{Type: "transit"})
		h := run(t, srv, dataDir, setup{})
		h.Wait("mount failure", 30*time.Second, failedWith(`is a "transit" secrets engine, not kv`))
		if !h.Running() {
			t.Fatal("vault-init exited on a wrong mount type")
		}
		m := mounts(t, root)["aurora/"]
		if m == nil || m.Type != "transit" {
			t.Fatalf("aurora/ is now %+v, want the transit mount left as it was", m)
		}
		if h.Events.Count(isReady) > 0 {
			t.Fatal("vault-init claimed ready with a wrong mount")
		}
	})
}

// TestKeysOfAnotherVault: the keystore holds keys, and the Vault is another
// one. Neither the file nor Vault may change.
func TestKeysOfAnotherVault(t *testing.T) {
	first := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	h := run(t, first, dataDir, setup{})
	h.Wait("ready", 60*time.Second, isReady)
	h.Stop()
	before := readFile(t, initJSON(dataDir))

	t.Run("fresh vault", func(t *testing.T) {
		srv := vaulttest.Start(t, vaulttest.Options{})
		h := run(t, srv, dataDir, setup{})
		h.Wait("failure", 30*time.Second, failedWith("keystore already holds keys"))
		if !strings.Contains(h.Logs.String(), "move the keystore away") {
			t.Fatalf("error gives no way out:\n%s", h.Logs.String())
		}
		if srv.Health().Initialized {
			t.Fatal("vault-init initialized a Vault while holding another's keys")
		}
		if !h.Running() {
			t.Fatal("vault-init exited")
		}
	})
	t.Run("vault initialized elsewhere", func(t *testing.T) {
		srv := vaulttest.Start(t, vaulttest.Options{})
		resp, err := srv.Client("").Sys().InitWithContext(context.Background(), &api.InitRequest{SecretShares: 5, SecretThreshold: 3})
		if err != nil {
			t.Fatal(err)
		}
		h := run(t, srv, dataDir, setup{})
		h.Knows((&keystoreOf{resp}).data())
		h.Wait("failure", 30*time.Second, failedWith("unseal key at index 2 was rejected"))
		if !srv.Health().Sealed {
			t.Fatal("vault unsealed with foreign keys")
		}
	})
	if !bytes.Equal(before, readFile(t, initJSON(dataDir))) {
		t.Fatal("the keystore changed")
	}
}

// TestInitializedElsewhereWithoutKeys: someone else initialized Vault and
// vault-init has no keys. It says what to do, keeps running, changes nothing.
func TestInitializedElsewhereWithoutKeys(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	resp, err := srv.Client("").Sys().InitWithContext(context.Background(), &api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	h := run(t, srv, dataDir, setup{})
	h.Knows((&keystoreOf{resp}).data())
	h.Wait("failure", 30*time.Second, failedWith("it was initialized by someone else"))
	time.Sleep(3 * interval) // a few more rounds: still running, still nothing written
	if !h.Running() {
		t.Fatal("vault-init exited")
	}
	if _, err := os.Stat(initJSON(dataDir)); !os.IsNotExist(err) {
		t.Fatalf("init.json was written: %v", err)
	}
	if !srv.Health().Sealed {
		t.Fatal("vault was unsealed")
	}
	// The same Vault, unsealed by its owner and given VAULT_TOKEN: vault-init
	// configures the mount with that token.
	if _, err := srv.Client("").Sys().UnsealWithContext(context.Background(), resp.Keys[0]); err != nil {
		t.Fatal(err)
	}
	h.Stop()
	h2 := run(t, srv, dataDir, setup{token: resp.RootToken})
	h2.Knows((&keystoreOf{resp}).data())
	h2.Wait("ready", 30*time.Second, isReady)
	assertKVv2(t, srv.Client(resp.RootToken))
}

// TestTLS: with VAULT_CACERT the generated CA is trusted; without it the
// error says x509, and Vault is left alone.
func TestTLS(t *testing.T) {
	cert := vaulttest.NewCert(t)
	srv := vaulttest.Start(t, vaulttest.Options{TLS: cert})
	t.Run("no ca", func(t *testing.T) {
		h := run(t, srv, t.TempDir(), setup{})
		h.Logs.WaitFor(t, "x509: certificate signed by unknown authority", 30*time.Second)
		if srv.Health().Initialized {
			t.Fatal("vault was initialized over an unverified connection")
		}
	})
	t.Run("ca cert", func(t *testing.T) {
		h := run(t, srv, t.TempDir(), setup{tls: config.TLS{CACert: cert.CAFile}})
		h.Wait("ready", 60*time.Second, isReady)
	})
}
