package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestRekey: `vault-init rekey --shares 4 --threshold 2` on a Vault that
// vault-init initialized (5 shares, threshold 3): the keystore holds 4 new
// keys, the old ones no longer unseal Vault and `run --once` unseals it
// with the new ones. Nothing secret is printed.
func TestRekey(t *testing.T) {
	srv, dir, args, out, banner := initializedByRun(t)
	orig, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	var stdout vaulttest.Buffer
	t.Cleanup(func() {
		if d, err := keystore.New(dir).Load(); err == nil {
			vaulttest.AssertNoSecrets(t, "vault-init's output", out.String()+stdout.String(), d)
		}
		vaulttest.AssertNoSecrets(t, "vault-init's output", out.String()+stdout.String()+vaulttest.WithoutBanner(banner.String()), orig)
		if t.Failed() {
			t.Logf("vault-init output:\n%s\n%s", out.String(), stdout.String())
		}
	})
	if code := Run(context.Background(), args("rekey", "--shares", "4", "--threshold", "2"), &stdout, out); code != 0 {
		t.Fatalf("rekey: exit %d", code)
	}
	for _, want := range []string{"rekeyed the unseal keys of " + srv.Addr(), "4 shares, threshold 2 (were 5 shares, threshold 3)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("the summary lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, want := range []string{"rekey plan", "vault verified the new keys"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the logs lack %q", want)
		}
	}
	d, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if d.SecretShares != 4 || d.SecretThreshold != 2 || len(d.Keys) != 4 || d.Pending != nil || slices.Contains(d.Keys, orig.Keys[0]) {
		t.Fatalf("keystore after rekey: %v", d)
	}
	sys := srv.Client(d.RootToken).Sys()
	if err := sys.SealWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range orig.Keys {
		if st, err := sys.UnsealWithContext(context.Background(), k); err == nil && !st.Sealed {
			t.Fatal("an old key unsealed Vault")
		}
	}
	if code := Run(context.Background(), args("run", "--once"), banner, out); code != 0 {
		t.Fatalf("run --once after the rekey: exit %d", code)
	}
	if srv.Health().Sealed {
		t.Fatal("run --once did not unseal Vault with the new keys")
	}
}

// TestRekeyUsage: counts Vault would refuse exit 2 before Vault is
// contacted; the keystore's counts (5, 3) fill in a missing flag.
func TestRekeyUsage(t *testing.T) {
	clearEnv(t)
	var hits atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer fake.Close()
	dir := t.TempDir()
	d := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now().UTC(), VaultAddr: fake.URL, SecretShares: 5, SecretThreshold: 3,
		Keys: []string{"k1", "k2", "k3", "k4", "k5"}, RootToken: "hvs.root", SealType: "shamir"}
	if err := keystore.New(dir).Save(d); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{
		{"--shares", "3", "--threshold", "4"},
		{"--threshold", "6"},
		{"--shares", "2"},
		{"--threshold", "0"},
		{"--shares", "-1"},
		{"--shares", "3", "--threshold", "1"},
		{"--shares", "256"},
		{"--shares", "many"},
	} {
		var out vaulttest.Buffer
		code := Run(context.Background(), append([]string{"rekey", "--vault-addr", fake.URL, "--data-dir", dir}, flags...), &out, &out)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", flags, code, ExitUsage, out.String())
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("vault was contacted %d times", hits.Load())
	}
}

// TestRekeyBusy: someone else's rekey makes `vault-init rekey` exit 1,
// saying so, and stays.
func TestRekeyBusy(t *testing.T) {
	srv, dir, args, out, banner := initializedByRun(t)
	sys := srv.Client("").Sys()
	theirs, err := sys.RekeyInitWithContext(context.Background(), &api.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	var stderr vaulttest.Buffer
	if code := Run(context.Background(), args("rekey"), out, &stderr); code != ExitFailure {
		t.Fatalf("exit %d, want %d\n%s", code, ExitFailure, stderr.String())
	}
	if !strings.Contains(stderr.String(), "someone else's rekey of the unseal keys is in progress") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
	if st, err := sys.RekeyStatusWithContext(context.Background()); err != nil || !st.Started || st.Nonce != theirs.Nonce {
		t.Fatalf("their rekey: %+v %v", st, err)
	}
	d, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.AssertNoSecrets(t, "output", out.String()+stderr.String()+vaulttest.WithoutBanner(banner.String()), d)
}

// TestRekeyUnderARunningWatch: `vault-init rekey` while `vault-init run`
// watches the same Vault and data dir (the sidecar and `docker exec`):
// when Vault is sealed afterwards, the running loop unseals it with the
// new keys, which it never had in memory.
func TestRekeyUnderARunningWatch(t *testing.T) {
	clearEnv(t)
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	var out, banner, stdout vaulttest.Buffer
	args := func(cmd string, more ...string) []string {
		return append([]string{cmd, "--vault-addr", srv.Addr(), "--data-dir", dir, "--check-interval", "250ms"}, more...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Run(ctx, args("run"), &banner, &out) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run: exit %d", code)
		}
	}()
	srv.WaitFor("unsealed by the watch", 60*time.Second, vaulttest.Unsealed)
	orig, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if code := Run(context.Background(), args("rekey", "--shares", "3", "--threshold", "2"), &stdout, &out); code != 0 {
		t.Fatalf("rekey: exit %d\n%s", code, out.String())
	}
	d, err := keystore.New(dir).Load()
	if err != nil || slices.Equal(d.Keys, orig.Keys) || d.Pending != nil {
		t.Fatalf("keystore after rekey: %v %v", d, err)
	}
	if err := srv.Client(d.RootToken).Sys().SealWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor("unsealed again by the running watch, with the new keys", 30*time.Second, vaulttest.Unsealed)
	if n := strings.Count(out.String(), "vault unsealed"); n != 2 || strings.Contains(out.String(), "were rejected") {
		t.Fatalf("the watch logged %d unseals, want 2 (the second with the new keys at once):\n%s", n, out.String())
	}
	all := out.String() + stdout.String() + vaulttest.WithoutBanner(banner.String())
	vaulttest.AssertNoSecrets(t, "vault-init's output", all, orig)
	vaulttest.AssertNoSecrets(t, "vault-init's output", all, d)
}

// initializedByRun starts a Vault that `vault-init run --once` initializes
// and unseals (5 shares, threshold 3), and returns it, the data dir, an
// argument builder for both, and the run's output and banner buffers.
func initializedByRun(t *testing.T) (*vaulttest.Server, string, func(cmd string, more ...string) []string, *vaulttest.Buffer, *vaulttest.Buffer) {
	t.Helper()
	clearEnv(t)
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	out, banner := &vaulttest.Buffer{}, &vaulttest.Buffer{}
	args := func(cmd string, more ...string) []string {
		return append([]string{cmd, "--vault-addr", srv.Addr(), "--data-dir", dir}, more...)
	}
	if code := Run(context.Background(), args("run", "--once"), banner, out); code != 0 {
		t.Fatalf("run --once: exit %d\n%s", code, out.String())
	}
	return srv, dir, args, out, banner
}
