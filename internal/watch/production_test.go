package watch_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

func appOptions(period time.Duration) *apptoken.Options {
	return &apptoken.Options{Policy: "aurora-app", Mount: "aurora", BasePath: "users", Period: period}
}

// liveTokens lists the live tokens that have policy, as seen by root.
func liveTokens(t *testing.T, root *api.Client, policy string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := root.Logical().ListWithContext(ctx, "auth/token/accessors")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	keys, _ := s.Data["keys"].([]any)
	for _, k := range keys {
		acc := k.(string)
		info, err := root.Auth().Token().LookupAccessorWithContext(ctx, acc)
		if err != nil {
			continue
		}
		if p, _ := info.TokenPolicies(); slices.Contains(p, policy) {
			out = append(out, acc)
		}
	}
	return out
}

// appToken reads the saved app token and checks its mode.
func appToken(t *testing.T, dataDir string) string {
	t.Helper()
	assertMode(t, filepath.Join(dataDir, keystore.AppTokenFileName), 0o600)
	tok, err := keystore.New(dataDir).LoadAppToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// assertAppAccess checks what the app token may and may not do.
func assertAppAccess(t *testing.T, srv *vaulttest.Server, token string) {
	t.Helper()
	ctx := context.Background()
	c := srv.Client(token)
	if _, err := c.KVv2("aurora").Put(ctx, "users/alice", map[string]any{"aws": "k"}); err != nil {
		t.Fatalf("app token cannot write under users/: %v", err)
	}
	if s, err := c.KVv2("aurora").Get(ctx, "users/alice"); err != nil || s.Data["aws"] != "k" {
		t.Fatalf("app token cannot read back: %v", err)
	}
	if s, err := c.Logical().ListWithContext(ctx, "aurora/metadata/users"); err != nil || s == nil {
		t.Fatalf("app token cannot list users/: %v", err)
	}
	if err := c.KVv2("aurora").DeleteMetadata(ctx, "users/alice"); err != nil {
		t.Fatalf("app token cannot delete under users/: %v", err)
	}
	for _, denied := range []func() error{
		func() error { _, err := c.KVv2("aurora").Put(ctx, "admin/x", map[string]any{"a": "b"}); return err },
		func() error { _, err := c.Logical().ReadWithContext(ctx, "sys/mounts"); return err },
		func() error { _, err := c.Logical().ListWithContext(ctx, "aurora/metadata"); return err },
		func() error {
			_, err := c.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"aurora-app"}})
			return err
		},
	} {
		var re *api.ResponseError
		if err := denied(); !errors.As(err, &re) || re.StatusCode != 403 {
			t.Fatalf("app token was not denied outside its path: %v", err)
		}
	}
	info, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := info.TokenPolicies()
	renewable, _ := info.TokenIsRenewable()
	if !slices.Equal(pol, []string{"aurora-app", "default"}) || !renewable || info.Data["period"] == nil || info.Data["orphan"] != true {
		t.Fatalf("app token: policies %v renewable %v period %v orphan %v", pol, renewable, info.Data["period"], info.Data["orphan"])
	}
}

// TestAppToken: the application gets a limited, periodic token; restarts
// keep it; a revoked or lost one is replaced, and never two live at once.
func TestAppToken(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	h := run(t, srv, dataDir, setup{app: appOptions(time.Hour)})
	h.Wait("ready", 60*time.Second, isReady)
	h.Out.WaitFor(t, "=====\n", 5*time.Second)
	root := srv.Client(h.Keys().RootToken)
	app := appToken(t, dataDir)
	banner := h.Out.String()
	if !strings.Contains(banner, "Root Token: "+h.Keys().RootToken+"\n") || !strings.Contains(banner, "IMPORTANT: Set VAULT_TOKEN="+app+" in your .env file") {
		t.Fatalf("banner:\n%s", banner)
	}
	assertAppAccess(t, srv, app)
	rules, err := root.Sys().GetPolicy("aurora-app")
	if err != nil || rules != apptoken.Rules("aurora", "users") {
		t.Fatalf("policy %q: %v", rules, err)
	}
	h.Stop()

	t.Run("restart keeps the token", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			h := run(t, srv, dataDir, setup{app: appOptions(time.Hour)})
			h.Wait("ready", 30*time.Second, isReady)
			h.Stop()
			if h.Out.String() != "" || appToken(t, dataDir) != app {
				t.Fatalf("restart %d issued a token or printed:\n%s", i, h.Out.String())
			}
		}
		if live := liveTokens(t, root, "aurora-app"); len(live) != 1 {
			t.Fatalf("%d live app tokens after restarts, want 1", len(live))
		}
	})
	t.Run("revoked token is re-issued", func(t *testing.T) {
		if err := root.Auth().Token().RevokeOrphanWithContext(context.Background(), app); err != nil {
			t.Fatal(err)
		}
		h := run(t, srv, dataDir, setup{app: appOptions(time.Hour)})
		h.Wait("ready", 30*time.Second, isReady)
		h.Out.WaitFor(t, "=====\n", 5*time.Second)
		next := appToken(t, dataDir)
		if next == app || !strings.Contains(h.Out.String(), "Set VAULT_TOKEN="+next+" in") {
			t.Fatalf("no new token in the banner:\n%s", h.Out.String())
		}
		h.Stop()
		assertAppAccess(t, srv, next)
		app = next
	})
	t.Run("lost file: the old token is revoked", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dataDir, keystore.AppTokenFileName)); err != nil {
			t.Fatal(err)
		}
		h := run(t, srv, dataDir, setup{app: appOptions(time.Hour)})
		h.Wait("ready", 30*time.Second, isReady)
		h.Stop()
		next := appToken(t, dataDir)
		if next == app {
			t.Fatal("the token was not re-issued")
		}
		if _, err := srv.Client(app).Auth().Token().LookupSelf(); err == nil {
			t.Fatal("the lost token still works")
		}
		if live := liveTokens(t, root, "aurora-app"); len(live) != 1 {
			t.Fatalf("%d live app tokens, want 1", len(live))
		}
		app = next
	})
	t.Run("renewed while running, replaced when revoked", func(t *testing.T) {
		// A short period makes vault-init renew every period/4.
		h := run(t, srv, dataDir, setup{app: appOptions(8 * time.Second)})
		h.Wait("ready", 30*time.Second, isReady)
		// Event-driven, not timed: Vault's last_renewal_time must move on
		// twice while vault-init runs.
		last := lastRenewal(t, srv, app)
		for i := 0; i < 2; i++ {
			last = nextRenewal(t, srv, app, last)
		}
		if err := root.Auth().Token().RevokeOrphanWithContext(context.Background(), app); err != nil {
			t.Fatal(err)
		}
		h.Logs.WaitFor(t, `"msg":"app token issued and saved"`, time.Minute)
		h.Out.WaitFor(t, "=====\n", 5*time.Second)
		if next := appToken(t, dataDir); next == app || !strings.Contains(h.Out.String(), next) {
			t.Fatalf("no new token after revocation:\n%s", h.Out.String())
		}
	})
}

// lastRenewal is the app token's last_renewal_time in Vault (Unix seconds;
// 0 before the first renewal). It fails the test once the token is gone.
func lastRenewal(t *testing.T, srv *vaulttest.Server, app string) int64 {
	t.Helper()
	info, err := srv.Client(app).Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("the app token expired or is gone although vault-init renews it: %v", err)
	}
	n, _ := info.Data["last_renewal_time"].(json.Number)
	last, _ := n.Int64()
	return last
}

// nextRenewal waits until the app token's last_renewal_time moves past
// after, and returns it. vault-init renews every period/4; the minute is
// only a backstop, far beyond that, and not what is tested.
func nextRenewal(t *testing.T, srv *vaulttest.Server, app string, after int64) int64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if last := lastRenewal(t, srv, app); last > after {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatal("vault-init did not renew the app token within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRevokeRootKeepsTheTokenWhenTheKeystoreIsStuck: the stored root token
// is revoked only once the keystore no longer holds it.
func TestRevokeRootKeepsTheTokenWhenTheKeystoreIsStuck(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	h := run(t, srv, dataDir, setup{})
	h.Wait("ready", 60*time.Second, isReady)
	h.Stop()
	root := h.Keys().RootToken

	unlock, err := keystore.New(dataDir).TryLock() // another process holds the data dir
	if err != nil {
		t.Fatal(err)
	}
	h = run(t, srv, dataDir, setup{app: appOptions(time.Hour), revokeRoot: true})
	h.Wait("revoke-root failed", 30*time.Second, failedWith("record the root token's revocation"))
	if _, err := srv.Client(root).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("the stored root token was revoked while the keystore still holds it: %v", err)
	}
	if h.Keys().RootToken != root {
		t.Fatal("the keystore lost the root token")
	}
	unlock()
	h.Wait("revoke-root done", 30*time.Second, isStep(events.StepDone, "revoke-root"))
	if _, err := srv.Client(root).Auth().Token().LookupSelf(); err == nil {
		t.Fatal("the root token still works")
	}
	if d := h.Keys(); d.RootToken != "" || !d.RootTokenRevoked {
		t.Fatalf("keystore: %v", d)
	}
}

// rootTokens lists the live root tokens, through a root token the test
// generates and revokes itself.
func rootTokens(t *testing.T, srv *vaulttest.Server, d *keystore.InitData) int {
	t.Helper()
	ctx := context.Background()
	tok, err := roottoken.Generate(ctx, srv.Client("").Sys(), keystore.New(t.TempDir()), d.Keys)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client(tok)
	defer c.Auth().Token().RevokeSelfWithContext(ctx, "")
	return len(liveTokens(t, c, "root")) - 1 // less the test's own
}

// TestRevokeRoot: with VAULT_INIT_REVOKE_ROOT, no root token outlives the
// setup, the keystore never holds a revoked one, and an operator's
// generate-root is never cancelled.
func TestRevokeRoot(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	// Through a proxy that keeps the init reply: the root token it held is
	// revoked and gone from the keystore, and the secret scan must still
	// look for it in the logs and events.
	px := testkit.NewProxy(t, srv.Addr())
	s := setup{app: appOptions(time.Hour), revokeRoot: true}
	h := watchtest.Start(t, watchtest.Options{Nodes: []string{px.Addr()}, DataDir: dataDir, App: s.app, RevokeRoot: s.revokeRoot})
	h.Wait("revoke-root done", 60*time.Second, isStep(events.StepDone, "revoke-root"))
	h.Knows(px.InitReplies()...)
	h.Out.WaitFor(t, "=====\n", 5*time.Second)
	d := h.Keys()
	if d.RootToken != "" || !d.RootTokenRevoked || len(d.PendingRevoke) != 0 {
		t.Fatalf("keystore after revocation: %v, pending %d", d, len(d.PendingRevoke))
	}
	app := appToken(t, dataDir)
	if out := h.Out.String(); !strings.Contains(out, "Root Token: revoked after setup") || !strings.Contains(out, "Set VAULT_TOKEN="+app+" in") {
		t.Fatalf("banner:\n%s", out)
	}
	if n := rootTokens(t, srv, d); n != 0 {
		t.Fatalf("%d root tokens live after setup, want 0", n)
	}
	assertAppAccess(t, srv, app)

	t.Run("sealed and restarted: unsealed with no root token made", func(t *testing.T) {
		srv.Kill()
		srv.Restart()
		srv.WaitFor("unseal after restart", 30*time.Second, vaulttest.Unsealed)
		h.WaitCount("unsealed", 2, 10*time.Second, isUnsealed)
		h.WaitCount("ready", 2, 10*time.Second, isReady)
		if n := countLines(h.Logs.String(), "generated a short-lived root token"); n != 0 {
			t.Fatalf("%d root tokens generated within one run, want 0", n)
		}
	})
	h.Stop()

	t.Run("next start generates one, uses it and revokes it", func(t *testing.T) {
		h := run(t, srv, dataDir, s)
		h.Wait("revoke-root done", 30*time.Second, isStep(events.StepDone, "revoke-root"))
		h.Wait("ready", 5*time.Second, isReady)
		h.Stop()
		if !strings.Contains(h.Logs.String(), "generated a short-lived root token") {
			t.Fatal("no root token was generated")
		}
		if n := rootTokens(t, srv, h.Keys()); n != 0 {
			t.Fatalf("%d root tokens live, want 0", n)
		}
		if h.Keys().RootToken != "" || len(h.Keys().PendingRevoke) != 0 {
			t.Fatal("the keystore holds a root token or a pending one")
		}
	})

	t.Run("a root token left unrevoked by a killed vault-init is revoked", func(t *testing.T) {
		// What a kill between the keystore update and the revocation leaves:
		// a live root token whose accessor is listed as pending.
		ctx := context.Background()
		left, err := roottoken.Generate(ctx, srv.Client("").Sys(), keystore.New(t.TempDir()), d.Keys)
		if err != nil {
			t.Fatal(err)
		}
		info, err := srv.Client(left).Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		acc, _ := info.TokenAccessor()
		ks := keystore.New(dataDir)
		cur, err := ks.Load()
		if err != nil {
			t.Fatal(err)
		}
		cur.PendingRevoke = []string{acc}
		if err := ks.Save(cur); err != nil {
			t.Fatal(err)
		}
		h := run(t, srv, dataDir, s)
		h.Logs.WaitFor(t, "revoked a root token left by an earlier run", 30*time.Second)
		h.Wait("ready", 10*time.Second, isReady)
		h.Stop()
		if _, err := srv.Client(left).Auth().Token().LookupSelfWithContext(ctx); err == nil {
			t.Fatal("the left-over root token still works")
		}
		if p := h.Keys().PendingRevoke; len(p) != 0 {
			t.Fatalf("%d accessors still pending", len(p))
		}
	})
	t.Run("an operator's generate-root is never cancelled", func(t *testing.T) {
		ctx := context.Background()
		op, err := srv.Client("").Sys().GenerateRootInitWithContext(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Client("").Sys().GenerateRootUpdateWithContext(ctx, d.Keys[0], op.Nonce); err != nil {
			t.Fatal(err)
		}
		h := run(t, srv, dataDir, s)
		h.Logs.WaitFor(t, "someone else's generate-root attempt is in progress (1 of 3", 30*time.Second)
		time.Sleep(3 * interval)
		st, err := srv.Client("").Sys().GenerateRootStatusWithContext(ctx)
		if err != nil || !st.Started || st.Nonce != op.Nonce || st.Progress != 1 {
			t.Fatalf("the operator's attempt was touched: %+v %v", st, err)
		}
		if h.Events.Count(isReady) > 0 {
			t.Fatal("ready without a token")
		}
		// The operator gives up: vault-init goes on.
		if err := srv.Client("").Sys().GenerateRootCancelWithContext(ctx); err != nil {
			t.Fatal(err)
		}
		h.Wait("ready", 30*time.Second, isReady)
		h.Stop()
		if n := rootTokens(t, srv, h.Keys()); n != 0 {
			t.Fatalf("%d root tokens live, want 0", n)
		}
	})
}
