// Package vaultclient builds the one *api.Client that vault-init uses, from a
// config.Config. It is the only place that turns settings into transport
// behaviour: address, TLS, timeouts and retries.
package vaultclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/config"
)

// RequestTimeout bounds every single request. It is well above what a
// healthy Vault needs (init takes about a second, mostly key generation) and
// short enough that a hung connection is noticed and retried.
const RequestTimeout = 30 * time.Second

// MaxResponseBytes bounds every reply vault-init reads, but a snapshot (see
// Snapshot). Vault's largest reply here (the list of mounts) is a few KiB; a
// reply past this is an error, not a reason to fill memory.
const MaxResponseBytes = 4 << 20

// New returns a client for the node at addr (cfg.VaultAddr for a single
// Vault) with TLS as cfg says and no token.
//
// cfg is the only source of settings. The api package reads the Vault CLI's
// variables (VAULT_TOKEN, VAULT_CACERT, VAULT_NAMESPACE, VAULT_HEADERS,
// VAULT_MAX_RETRIES, ...) by itself in DefaultConfig and NewClient, and again
// in every Clone; the command layer has already folded the ones vault-init
// takes into cfg, in the order flag, environment, file. So New builds the
// api.Config by hand, clears what NewClient picked up, makes clones copy the
// client's own token and headers (CloneToken, CloneHeaders), and takes those
// variables out of the process environment (see forgetEnvironment), so that
// neither a clone made anywhere nor a variable api cannot parse can undo it.
//
// The api package's own retries are turned off (MaxRetries = 0): vault-init
// decides when to retry, through its backoff, so that every request it makes
// is one it can see, count and log.
func New(cfg config.Config, addr string) (*api.Client, error) {
	forgetEnvironment()
	transport := newTransport()
	ac := &api.Config{
		Address:    addr,
		HttpClient: &http.Client{Transport: transport, CheckRedirect: noRedirect},
		MaxRetries: 0,
		Timeout:    RequestTimeout,
		// A clone is the same client with another timeout or token:
		// it copies this one's (empty) token and headers, never the
		// environment's.
		CloneToken:   true,
		CloneHeaders: true,
	}
	err := ac.ConfigureTLS(&api.TLSConfig{
		CACert:        cfg.TLS.CACert,
		CAPath:        cfg.TLS.CAPath,
		ClientCert:    cfg.TLS.ClientCert,
		ClientKey:     cfg.TLS.ClientKey,
		TLSServerName: cfg.TLS.ServerName,
		Insecure:      cfg.TLS.SkipVerify,
	})
	if err != nil {
		return nil, fmt.Errorf("configure tls: %w", err)
	}
	// Every connection reports when Vault closes it: see ConnLost.
	lost := make(chan struct{}, 1)
	dial := transport.DialContext
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &watchedConn{Conn: conn, lost: lost}, nil
	}
	// Wrapped only now: the api package expects an *http.Transport while
	// it configures TLS.
	ac.HttpClient.Transport = &limitedTransport{base: transport, max: MaxResponseBytes, lost: lost}
	c, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("new vault client: %w", err)
	}
	// Should a variable be set again after forgetEnvironment (as a test's
	// t.Setenv does), NewClient has picked it up: start from nothing.
	c.ClearToken()
	c.ClearNamespace()
	c.SetHeaders(http.Header{api.RequestHeaderName: []string{"true"}})
	return c, nil
}

// newTransport is what api.DefaultConfig would build (go-cleanhttp's pooled
// transport, TLS 1.2 at least, HTTP/2), without the VAULT_* variables.
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY still apply, as for any Go program
// (see ProxyFor).
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = proxyFromEnvironment()
	t.MaxIdleConnsPerHost = runtime.GOMAXPROCS(0) + 1
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.ForceAttemptHTTP2 = true
	return t
}

// noRedirect leaves redirects to the api package, which follows a Vault
// standby's 307 itself; net/http must hand it the reply unread.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
