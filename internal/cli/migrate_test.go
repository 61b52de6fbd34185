package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// cliRun runs vault-init in process with args and returns its exit code;
// what it wrote goes to out.
func cliRun(ctx context.Context, out *vaulttest.Buffer, args ...string) int {
	return Run(ctx, args, out, out)
}

// TestMigrateToTransitAndBack is the operator's path: a Shamir Vault that
// vault-init initialized gets a transit seal stanza and a restart. The
// watch loop leaves it alone and says to run `vault-init migrate`; migrate
// moves it to transit, and after a restart it unseals on its own. Then
// back: the stanza disabled, migrate, and vault-init unseals it with the
// same shares.
func TestMigrateToTransitAndBack(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	var out, banner vaulttest.Buffer
	args := func(cmd, addr string) []string { return []string{cmd, "--vault-addr", addr, "--data-dir", dir} }
	if code := Run(context.Background(), append(args("run", srv.Addr()), "--once"), &banner, &out); code != 0 {
		t.Fatalf("run --once: exit %d\n%s", code, out.String())
	}
	orig, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vaulttest.AssertNoSecrets(t, "vault-init's output", out.String()+vaulttest.WithoutBanner(banner.String()), orig)
		if t.Failed() {
			t.Logf("vault-init output:\n%s", out.String())
		}
	})
	stanza, _ := vaulttest.TransitSeal(t)
	srv.Stop()
	srv.SetExtraConfig(stanza)
	srv.Restart()

	// The watch loop submits nothing to a node that waits for a migration,
	// says what to do, and does not poll it in a hot loop.
	px := testkit.NewProxy(t, srv.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- cliRun(ctx, &out, append(args("run", px.Addr()), "--check-interval", "250ms")...) }()
	out.WaitFor(t, "run `vault-init migrate`", 30*time.Second)
	watched := time.Now()
	timer := time.NewTimer(3 * time.Second)
	<-timer.C
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run: exit %d", code)
	}
	rounds := int(time.Since(watched)/(250*time.Millisecond)) + 4 // and the start
	if n := px.Count("PUT", "/v1/sys/unseal"); n != 0 {
		t.Fatalf("the watch loop sent %d unseal requests to a Vault that waits for a migration", n)
	}
	if n := px.Count("", ""); n > 4*rounds {
		t.Fatalf("%d requests in %d check intervals: a hot loop", n, rounds)
	}
	t.Logf("figure: %d requests in %d check intervals while the migration waits", px.Count("", ""), rounds)
	// status (and so `make prod-local`'s wait) names the waiting migration.
	var waiting vaulttest.Buffer
	if code := Run(context.Background(), args("status", srv.Addr()), &waiting, &out); code != ExitFailure ||
		!strings.Contains(waiting.String(), "migration    pending") {
		t.Fatalf("status while the migration waits: exit %d\n%s", code, waiting.String())
	}

	if code := cliRun(context.Background(), &out, args("migrate", srv.Addr())...); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out.String())
	}
	st := sealStatus(t, srv)
	if st.Sealed || st.Type != "transit" || !st.RecoverySeal || st.Migration {
		t.Fatalf("after migrate: %+v", st)
	}
	d, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if d.SealType != "transit" || !slices.Equal(d.RecoveryKeys, orig.Keys) || len(d.Keys) != 0 || d.Pending != nil {
		t.Fatalf("keystore after migrate: %s", d)
	}
	var status vaulttest.Buffer
	if code := Run(context.Background(), args("status", srv.Addr()), &status, &out); code != 0 ||
		!strings.Contains(status.String(), "recovery keys: 5 shares, threshold 3") {
		t.Fatalf("status: exit %d\n%s", code, status.String())
	}
	out.Write([]byte(status.String()))
	srv.Stop()
	srv.Restart()
	srv.WaitFor("auto-unsealed, with no vault-init running", 60*time.Second, vaulttest.Unsealed)

	// Back to Shamir.
	srv.Stop()
	srv.SetExtraConfig(vaulttest.Disabled(stanza))
	srv.Restart()
	if code := cliRun(context.Background(), &out, args("migrate", srv.Addr())...); code != 0 {
		t.Fatalf("migrate back: exit %d\n%s", code, out.String())
	}
	if st := sealStatus(t, srv); st.Sealed || st.Type != "shamir" || st.Migration {
		t.Fatalf("after migrate back: %+v", st)
	}
	if d, err = keystore.New(dir).Load(); err != nil || d.AutoUnseal() || !slices.Equal(d.Keys, orig.Keys) || d.Pending != nil {
		t.Fatalf("keystore after migrate back: %s, %v", d, err)
	}
	srv.Stop()
	srv.SetExtraConfig("")
	srv.Restart()
	if !sealStatus(t, srv).Sealed {
		t.Fatal("vault on shamir came up unsealed")
	}
	if code := cliRun(context.Background(), &out, append(args("run", srv.Addr()), "--once")...); code != 0 {
		t.Fatalf("run --once after migrating back: exit %d", code)
	}
	if st := sealStatus(t, srv); st.Sealed {
		t.Fatal("run --once did not unseal vault with the migrated keys")
	}
	if code := cliRun(context.Background(), &out, args("migrate", srv.Addr())...); code != 0 ||
		!strings.Contains(out.String(), "nothing to migrate") {
		t.Fatalf("migrate with nothing to do: exit %d", code)
	}
}

// TestMigrateUnreachable: a Vault whose new seal is down exits at startup;
// migrate exits 1, says so, and leaves the keystore as it was.
func TestMigrateUnreachable(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	var out, banner vaulttest.Buffer
	if code := Run(context.Background(), []string{"run", "--once", "--vault-addr", srv.Addr(), "--data-dir", dir}, &banner, &out); code != 0 {
		t.Fatalf("run --once: exit %d\n%s", code, out.String())
	}
	orig, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	stanza, transit := vaulttest.TransitSeal(t)
	transit.Stop()
	srv.Stop()
	srv.SetExtraConfig(stanza)
	if err := srv.TryRestart(); err == nil {
		t.Fatal("vault started with its seal down")
	}
	var migrated vaulttest.Buffer
	code := cliRun(context.Background(), &migrated, "migrate", "--vault-addr", srv.Addr(), "--data-dir", dir)
	out.Write([]byte(migrated.String()))
	vaulttest.AssertNoSecrets(t, "vault-init's output", out.String(), orig)
	if code != ExitFailure || !strings.Contains(migrated.String(), "vault does not answer") ||
		!strings.Contains(migrated.String(), "check Vault's logs") {
		t.Fatalf("migrate: exit %d\n%s", code, migrated.String())
	}
	if d, err := keystore.New(dir).Load(); err != nil || !d.Equal(orig) {
		t.Fatalf("the keystore changed: %s, %v", d, err)
	}
}

// sealStatus reads srv's seal-status, or fails the test.
func sealStatus(t *testing.T, srv *vaulttest.Server) *api.SealStatusResponse {
	t.Helper()
	st, err := srv.Client("").Sys().SealStatusWithContext(context.Background())
	if err != nil {
		t.Fatalf("seal status: %v", err)
	}
	return st
}
