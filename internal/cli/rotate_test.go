package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestRotate: `vault-init rotate` rotates Vault's encryption key with the
// stored root token, and, with the root token revoked, with a generated
// one that it revokes when done. Data written before stays readable. No
// secret in what it prints or logs.
func TestRotate(t *testing.T) {
	for _, revoke := range []bool{false, true} {
		name := "root token"
		if revoke {
			name = "revoked root"
		}
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			srv := vaulttest.Start(t, vaulttest.Options{})
			dir := t.TempDir()
			args := []string{"--vault-addr", srv.Addr(), "--data-dir", dir}
			if revoke {
				args = append(args, "--revoke-root", "--app-token") // revoking root needs a token for the app
			}
			ctx := context.Background()
			var out, errOut bytes.Buffer
			if code := Run(ctx, append([]string{"run", "--once"}, args...), &out, &errOut); code != 0 {
				t.Fatalf("run --once: exit %d\n%s", code, errOut.String())
			}
			d, err := keystore.New(dir).Load()
			if err != nil || d.RootTokenRevoked != revoke {
				t.Fatalf("keystore after setup: %v, %v", d, err)
			}
			// Something to read back after the rotation, written with a
			// root token of the test's own.
			tok := rootFor(t, srv, d)
			if _, err := srv.Client(tok).Logical().WriteWithContext(ctx, "aurora/data/probe", map[string]any{"data": map[string]any{"v": "before"}}); err != nil {
				t.Fatal(err)
			}
			roots := rootTokens(t, srv, tok)
			// A rotate that fails midway (sys/rotate answers 500) exits 1,
			// and leaves no root token of its own behind.
			failing := failRotate(t, srv.Addr())
			failArgs := []string{"rotate", "--vault-addr", failing, "--data-dir", dir}
			if revoke {
				failArgs = append(failArgs, "--revoke-root", "--app-token")
			}
			if code := Run(ctx, failArgs, &out, &errOut); code != ExitFailure {
				t.Fatalf("rotate with sys/rotate failing: exit %d\n%s", code, errOut.String())
			}
			if n := rootTokens(t, srv, tok); n != roots {
				t.Fatalf("a failed rotate left %d root tokens, there were %d", n, roots)
			}
			out.Reset()
			errOut.Reset()
			if code := Run(ctx, append([]string{"rotate"}, args...), &out, &errOut); code != 0 {
				t.Fatalf("rotate: exit %d\n%s", code, errOut.String())
			}
			if n := rootTokens(t, srv, tok); n != roots {
				t.Fatalf("rotate left %d root tokens, there were %d", n, roots)
			}
			if !strings.Contains(out.String(), "term 1 -> 2") {
				t.Fatalf("rotate printed %q, want term 1 -> 2", out.String())
			}
			ks, err := srv.Client(tok).Sys().KeyStatusWithContext(ctx)
			if err != nil || ks.Term != 2 {
				t.Fatalf("key-status after rotate: %+v, %v", ks, err)
			}
			sec, err := srv.Client(tok).Logical().ReadWithContext(ctx, "aurora/data/probe")
			if err != nil || sec == nil || sec.Data["data"].(map[string]any)["v"] != "before" {
				t.Fatalf("data written before the rotation: %v, %v", sec, err)
			}
			after, err := keystore.New(dir).Load()
			if err != nil {
				t.Fatal(err)
			}
			if revoke && (after.RootToken != "" || len(after.PendingRevoke) != 0) {
				t.Fatalf("revoke-root: the generated token was not revoked and forgotten: %v", after)
			}
			vaulttest.AssertNoSecrets(t, "rotate's output", out.String()+errOut.String(), after)
		})
	}
}

// TestRotateNeedsAnActiveNode: an uninitialized (so sealed) Vault is
// refused, with no change.
func TestRotateNeedsAnActiveNode(t *testing.T) {
	clearEnv(t)
	srv := vaulttest.Start(t, vaulttest.Options{})
	var errOut bytes.Buffer
	code := Run(context.Background(), []string{"rotate", "--vault-addr", srv.Addr(), "--data-dir", t.TempDir()}, &bytes.Buffer{}, &errOut)
	if code != ExitFailure || !strings.Contains(errOut.String(), "no node is active") {
		t.Fatalf("rotate on an uninitialized Vault: exit %d: %s", code, errOut.String())
	}
}

// rootFor returns a root token for the test: the stored one, or one
// generated from the stored keys when vault-init revoked it.
func rootFor(t *testing.T, srv *vaulttest.Server, d *keystore.InitData) string {
	t.Helper()
	if d.RootToken != "" {
		return d.RootToken
	}
	tok, err := roottoken.Generate(context.Background(), srv.Client("").Sys(), &memNonces{}, d.GenerateRootKeys())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// memNonces keeps a generate-root nonce record in memory.
type memNonces struct{ nonce string }

func (m *memNonces) SaveNonce(n string) error   { m.nonce = n; return nil }
func (m *memNonces) LoadNonce() (string, error) { return m.nonce, nil }
func (m *memNonces) ClearNonce() error          { m.nonce = ""; return nil }

// rootTokens counts the live tokens with the root policy, through tok.
func rootTokens(t *testing.T, srv *vaulttest.Server, tok string) int {
	t.Helper()
	c := srv.Client(tok)
	list, err := c.Logical().ListWithContext(context.Background(), "auth/token/accessors")
	if err != nil || list == nil {
		t.Fatalf("list token accessors: %v", err)
	}
	n := 0
	for _, a := range list.Data["keys"].([]any) {
		sec, err := c.Auth().Token().LookupAccessorWithContext(context.Background(), a.(string))
		if err != nil {
			t.Fatal(err)
		}
		if pols, _ := sec.TokenPolicies(); slices.Contains(pols, "root") {
			n++
		}
	}
	return n
}

// failRotate is a proxy in front of addr that answers sys/rotate with 500
// and passes everything else.
func failRotate(t *testing.T, addr string) string {
	t.Helper()
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sys/rotate" {
			http.Error(w, `{"errors":["injected failure"]}`, http.StatusInternalServerError)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
