package vaultclient

import "testing"

// TestProxyFor: a proxy from the environment is reported for the nodes it
// applies to, and not for those NO_PROXY exempts.
func TestProxyFor(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://user:pw@proxy.example:3128")
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("NO_PROXY", "exempt")
	if p := ProxyFor("http://vault:8200"); p == nil || p.Host != "proxy.example:3128" {
		t.Fatalf("ProxyFor(http://vault:8200) = %v, want proxy.example:3128", p)
	}
	if p := ProxyFor("http://exempt:8200"); p != nil {
		t.Fatalf("ProxyFor(http://exempt:8200) = %v, want none (NO_PROXY)", p)
	}
	if p := ProxyFor("https://vault:8200"); p != nil {
		t.Fatalf("ProxyFor(https://vault:8200) = %v, want none (HTTPS_PROXY is empty)", p)
	}
}
