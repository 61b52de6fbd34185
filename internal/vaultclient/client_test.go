package vaultclient

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/config"
)

// tlsVault is a TLS server that answers sys/health, and the path of a PEM
// file holding its certificate (which is self-signed, so it is its own CA).
func tlsVault(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get("X-Vault-Token"); tok != "" {
			t.Errorf("request carried a token it should not have")
		}
		w.Write([]byte(`{"initialized":true,"sealed":false}`))
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
	if err := os.WriteFile(ca, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func health(t *testing.T, cfg config.Config) error {
	t.Helper()
	c, err := New(cfg, cfg.VaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sys().HealthWithContext(context.Background())
	return err
}

func TestTLSSettings(t *testing.T) {
	srv, ca := tlsVault(t)
	// Every TLS variable of the Vault CLI is set in the environment to the
	// opposite of what cfg says: cfg must win, because the command layer has
	// already folded the environment into it.
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_CACERT", ca)
	t.Setenv("VAULT_TOKEN", "env-token")
	t.Setenv("VAULT_AGENT_ADDR", "http://127.0.0.1:1") // must not replace the node's address

	var unknownCA x509.UnknownAuthorityError
	if err := health(t, config.Config{VaultAddr: srv.URL}); !errors.As(err, &unknownCA) {
		t.Fatalf("no CA: err %v, want x509 unknown authority", err)
	}
	if err := health(t, config.Config{VaultAddr: srv.URL, TLS: config.TLS{CACert: ca}}); err != nil {
		t.Fatalf("with ca-cert: %v", err)
	}
	if err := health(t, config.Config{VaultAddr: srv.URL, TLS: config.TLS{CAPath: filepath.Dir(ca)}}); err != nil {
		t.Fatalf("with ca-path: %v", err)
	}
	if err := health(t, config.Config{VaultAddr: srv.URL, TLS: config.TLS{SkipVerify: true}}); err != nil {
		t.Fatalf("with skip-verify: %v", err)
	}
	err := health(t, config.Config{VaultAddr: srv.URL, TLS: config.TLS{CACert: ca, ServerName: "vault.other"}})
	if err == nil || !strings.Contains(err.Error(), "vault.other") {
		t.Fatalf("wrong server name: err %v, want a name mismatch", err)
	}
}

func TestClientCertNeedsKey(t *testing.T) {
	_, err := New(config.Config{TLS: config.TLS{ClientCert: "/x"}}, "https://127.0.0.1:1")
	if err == nil {
		t.Fatal("client cert without key accepted")
	}
}

func TestRepliesAreBounded(t *testing.T) {
	big := strings.Repeat(" ", MaxResponseBytes) + `{"initialized":true}`
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if chunked {
				w.(http.Flusher).Flush() // no Content-Length: the body is streamed
			}
			w.Write([]byte(big))
		}))
		err := health(t, config.Config{VaultAddr: srv.URL})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), "allowed") {
			t.Fatalf("chunked %v: err %v, want a size error", chunked, err)
		}
	}
	// A reply of exactly the limit is read.
	exact := `{"initialized":true}` + strings.Repeat(" ", MaxResponseBytes-len(`{"initialized":true}`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		w.Write([]byte(exact))
	}))
	defer srv.Close()
	if err := health(t, config.Config{VaultAddr: srv.URL}); err != nil {
		t.Fatalf("a reply of exactly the limit: %v", err)
	}
}

func TestConnLost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"initialized":true,"sealed":false}`))
	}))
	defer srv.Close()
	c, err := New(config.Config{VaultAddr: srv.URL}, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	lost := ConnLost(c)
	if _, err := c.Sys().HealthWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
		t.Fatal("a connection was reported lost while it sat in the pool")
	case <-time.After(100 * time.Millisecond):
	}
	// As when the Vault process dies: the server side of the idle
	// keep-alive connection goes away.
	srv.CloseClientConnections()
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the closed connection was not reported")
	}
	plain, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if ConnLost(plain) != nil {
		t.Fatal("a client that New did not build has a channel")
	}
}
