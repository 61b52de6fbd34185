package vaultclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/config"
)

// seenHeaders is a TLS server that answers sys/health and records the
// headers of every request it gets.
type seenHeaders struct {
	mu   sync.Mutex
	reqs []http.Header
}

func (s *seenHeaders) all() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.reqs...)
}

func recordingVault(t *testing.T) (*httptest.Server, string, *seenHeaders) {
	t.Helper()
	seen := &seenHeaders{}
	srv, ca := tlsVault(t)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.reqs = append(seen.reqs, r.Header.Clone())
		seen.mu.Unlock()
		w.Write([]byte(`{"initialized":true,"sealed":false}`))
	})
	return srv, ca, seen
}

// TestEnvironmentIsNotASource: the api package reads the Vault CLI's
// variables by itself, in DefaultConfig and NewClient, and again in every
// Clone. vault-init's settings come from config.Config only (the command
// layer folds flags, environment and file into it, in that order), so each
// variable below, set to something that would change or break the client,
// must leave the client, its clones and what the server sees untouched.
func TestEnvironmentIsNotASource(t *testing.T) {
	badPath := filepath.Join(t.TempDir(), "absent.pem")
	cases := []struct {
		env, value string
	}{
		{"VAULT_TOKEN", "env-token"},
		{"VAULT_NAMESPACE", "env-namespace"},
		{"VAULT_HEADERS", `{"X-Env-Header":"from-env"}`},
		{"VAULT_HEADERS", `not json`},
		{"VAULT_CACERT", badPath},
		{"VAULT_CACERT_BYTES", "not a certificate"},
		{"VAULT_CAPATH", badPath},
		{"VAULT_CLIENT_CERT", badPath},
		{"VAULT_CLIENT_KEY", badPath},
		{"VAULT_TLS_SERVER_NAME", "vault.other"},
		{"VAULT_SKIP_VERIFY", "not a bool"},
		{"VAULT_MAX_RETRIES", "many"},
		{"VAULT_CLIENT_TIMEOUT", "soon"},
		{"VAULT_RATE_LIMIT", "0.001:1"},
		{"VAULT_RATE_LIMIT", "fast"},
		{"VAULT_SRV_LOOKUP", "true"},
		{"VAULT_SRV_LOOKUP", "maybe"},
		{"VAULT_HTTP_PROXY", "http://127.0.0.1:1"},
		{"VAULT_PROXY_ADDR", "http://127.0.0.1:1"},
		{"VAULT_DISABLE_REDIRECTS", "maybe"},
		{"VAULT_ADDR", "http://127.0.0.1:1"},
		{"VAULT_AGENT_ADDR", "http://127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			srv, ca, seen := recordingVault(t)
			t.Setenv(tc.env, tc.value)
			c, err := New(config.Config{VaultAddr: srv.URL, TLS: config.TLS{CACert: ca}}, srv.URL)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			clone, err := c.Clone()
			if err != nil {
				t.Fatalf("Clone: %v", err)
			}
			for name, cl := range map[string]*api.Client{"client": c, "clone": clone} {
				assertClean(t, name, cl)
				// Three requests: a rate limit of one burst would hold the
				// second one back until the deadline.
				for i := 0; i < 3; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := cl.Sys().HealthWithContext(ctx)
					cancel()
					if err != nil {
						t.Fatalf("%s: health request %d: %v", name, i, err)
					}
				}
			}
			reqs := seen.all()
			if len(reqs) != 6 {
				t.Fatalf("the server saw %d requests, want 6", len(reqs))
			}
			for i, h := range reqs {
				for _, name := range []string{api.AuthHeaderName, api.NamespaceHeaderName, "X-Env-Header"} {
					if v := h.Get(name); v != "" {
						t.Fatalf("request %d carried %s", i, name)
					}
				}
			}
		})
	}
}

// assertClean checks the client's own settings: no token, no namespace,
// no header but the api's own, and vault-init's timeout and retries.
func assertClean(t *testing.T, name string, c *api.Client) {
	t.Helper()
	if c.Token() != "" {
		t.Fatalf("%s carries a token", name)
	}
	if c.Namespace() != "" {
		t.Fatalf("%s carries a namespace", name)
	}
	for h := range c.Headers() {
		if h != api.RequestHeaderName {
			t.Fatalf("%s carries the header %s", name, h)
		}
	}
	if got := c.ClientTimeout(); got != RequestTimeout {
		t.Fatalf("%s: timeout %v, want %v", name, got, RequestTimeout)
	}
	cc := c.CloneConfig()
	if cc.MaxRetries != 0 || cc.Limiter != nil || cc.SRVLookup || cc.AgentAddress != "" {
		t.Fatalf("%s: retries %d, limiter %v, srv lookup %v, agent %q", name, cc.MaxRetries, cc.Limiter, cc.SRVLookup, cc.AgentAddress)
	}
}

// TestCloneKeepsTheParentsToken: a clone carries exactly its parent's
// token and headers, the ones vault-init chose, whatever VAULT_TOKEN,
// VAULT_NAMESPACE and VAULT_HEADERS say, even when they are set again after
// the client was made.
func TestCloneKeepsTheParentsToken(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "env-token")
	c, err := New(config.Config{}, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_TOKEN", "env-token-again")
	t.Setenv("VAULT_NAMESPACE", "env-namespace")
	t.Setenv("VAULT_HEADERS", `{"X-Env-Header":"from-env"}`)
	clone, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, "clone of a client without a token", clone)
	c.SetToken("chosen")
	clone, err = c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if clone.Token() != "chosen" {
		t.Fatalf("the clone carries %q, want the parent's token %q", clone.Token(), "chosen")
	}
}
