// Package vaultclient builds the one *api.Client that vault-init uses, from a
// config.Config. It is the only place that turns settings into transport
// behaviour: address, TLS, timeouts and retries.
package vaultclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/config"
)

// RequestTimeout bounds every single request. It is well above what a
// healthy Vault needs (init takes about a second, mostly key generation) and
// short enough that a hung connection is noticed and retried.
const RequestTimeout = 30 * time.Second

// MaxResponseBytes bounds every reply vault-init reads. Vault's largest
// reply here (the list of mounts) is a few KiB; a reply past this is an
// error, not a reason to fill memory.
const MaxResponseBytes = 4 << 20

// New returns a client for the node at addr (cfg.VaultAddr for a single
// Vault) with TLS as cfg says and no token.
//
// The api package's own retries are turned off (MaxRetries = 0): vault-init
// decides when to retry, through its backoff, so that every request it makes
// is one it can see, count and log. The token is cleared too, because api
// picks up VAULT_TOKEN by itself and vault-init must choose which token to use.
func New(cfg config.Config, addr string) (*api.Client, error) {
	ac := api.DefaultConfig()
	if ac.Error != nil {
		return nil, fmt.Errorf("vault client defaults: %w", ac.Error)
	}
	ac.Address = addr
	ac.AgentAddress = "" // VAULT_AGENT_ADDR would silently replace every node's address
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
	c.ClearToken()
	c.ClearNamespace() // VAULT_NAMESPACE is an Enterprise setting vault-init does not take
	return c, nil
}

// ConnLost returns a channel that receives when Vault closes or resets one
// of c's connections, or nil (which never receives) for a client that New
// did not build. An idle keep-alive connection is closed by the kernel the
// moment the Vault process dies, so this tells of a crash or restart long
// before the next health check would. A receive may also be an ordinary
// close by Vault: it calls for a look, not for a conclusion. It says nothing
// when a proxy between vault-init and Vault keeps the connection open, nor
// (under TLS) when a peer ends it cleanly: the next check tells then.
func ConnLost(c *api.Client) <-chan struct{} {
	if t, ok := c.CloneConfig().HttpClient.Transport.(*limitedTransport); ok {
		return t.lost
	}
	return nil
}

// watchedConn signals on lost when a read fails for any reason but its own
// Close (net.ErrClosed): the peer closed it, reset it, or it timed out.
type watchedConn struct {
	net.Conn
	lost chan<- struct{}
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		select {
		case c.lost <- struct{}{}:
		default: // one pending signal is enough
		}
	}
	return n, err
}

// limitedTransport fails a reply whose body is larger than max bytes.
type limitedTransport struct {
	base http.RoundTripper
	max  int64
	lost chan struct{} // see ConnLost
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("vault reply to %s is %d bytes, more than the %d allowed", req.URL.Path, resp.ContentLength, t.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, path: req.URL.Path, max: t.max}
	return resp, nil
}

// limitedBody reads at most max bytes, then fails.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
	path string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly max bytes from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("vault reply to %s is larger than the %d bytes allowed", b.path, b.max)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
