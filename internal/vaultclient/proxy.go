package vaultclient

import (
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpproxy"
)

// ProxyFor returns the proxy that requests to addr go through, from
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY (as for any Go program), or nil.
// The unseal keys and the root token travel in those requests: with a
// plain http:// address the proxy reads them, so the caller warns.
func ProxyFor(addr string) *url.URL {
	u, err := url.Parse(addr)
	if err != nil {
		return nil
	}
	p, err := httpproxy.FromEnvironment().ProxyFunc()(u)
	if err != nil {
		return nil
	}
	return p
}

// proxyFromEnvironment is the transport's proxy: the same reading of the
// environment as ProxyFor, so that what is warned about is what happens.
func proxyFromEnvironment() func(*http.Request) (*url.URL, error) {
	proxy := httpproxy.FromEnvironment().ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
}
