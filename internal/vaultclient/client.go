// Package vaultclient builds the one *api.Client that vault-init uses, from a
// config.Config. It is the only place that turns settings into transport
// behaviour: address, TLS, timeouts and retries.
package vaultclient

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/config"
)

// RequestTimeout bounds every single request. It is well above what a
// healthy Vault needs (init takes about a second, mostly key generation) and
// short enough that a hung connection is noticed and retried.
const RequestTimeout = 30 * time.Second

// New returns a client for cfg.VaultAddr with TLS as cfg says and no token.
//
// The api package's own retries are turned off (MaxRetries = 0): vault-init
// decides when to retry, through its backoff, so that every request it makes
// is one it can see, count and log. The token is cleared too, because api
// picks up VAULT_TOKEN by itself and vault-init must choose which token to use.
func New(cfg config.Config) (*api.Client, error) {
	ac := api.DefaultConfig()
	if ac.Error != nil {
		return nil, fmt.Errorf("vault client defaults: %w", ac.Error)
	}
	ac.Address = cfg.VaultAddr
	ac.MaxRetries = 0
	ac.Timeout = RequestTimeout
	// DefaultConfig has already applied the VAULT_* TLS variables by itself.
	// Start from a clean TLS config so that cfg (which went through flags,
	// environment and file in their order) is the only source: otherwise
	// --tls-skip-verify=false could not override VAULT_SKIP_VERIFY=true.
	transport, ok := ac.HttpClient.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("vault client defaults: unexpected transport %T", ac.HttpClient.Transport)
	}
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
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
	c, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("new vault client: %w", err)
	}
	c.ClearToken()
	return c, nil
}
