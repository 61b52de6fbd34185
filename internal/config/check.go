package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Kubernetes object names: a DNS-1123 subdomain (Secrets) and label
// (namespaces).
var (
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// checkShares checks a shares/threshold pair by Vault's own rules, each
// problem on its own: the threshold is compared with the shares only when
// the shares are valid.
func checkShares(add func(key, format string, args ...any), sharesKey, thresholdKey string, shares, threshold int) {
	sharesOK := shares >= 1 && shares <= 255
	if !sharesOK {
		add(sharesKey, "%d is out of range (1 to 255)", shares)
	}
	switch {
	case threshold < 1:
		add(thresholdKey, "%d must be at least 1", threshold)
	case !sharesOK:
	case threshold > shares:
		add(thresholdKey, "%d is above %s (%d)", threshold, sharesKey, shares)
	case shares > 1 && threshold < 2:
		// Vault refuses this too: one share would unseal alone.
		add(thresholdKey, "must be at least 2 when %s is above 1", sharesKey)
	}
}

// checkAddr accepts an http:// or https:// URL with a host and no user
// information: credentials in an address would reach logs and metric
// labels, and Vault takes none there. An error never shows a password.
func checkAddr(a string) error {
	u, err := url.Parse(a)
	switch {
	case err != nil && strings.Contains(a, "@"):
		return errors.New("is not a valid URL (not shown: it may hold a password)")
	case err != nil:
		return fmt.Errorf("%q is not an http:// or https:// address with a host", a)
	case u.User != nil:
		// Neither the name nor the password is shown: either may be a token.
		return fmt.Errorf("%q carries user information (not shown); remove it: Vault authenticates with tokens, and the address is logged", u.Scheme+"://"+u.Host)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not an http:// or https:// address with a host", a)
	}
	return nil
}

// unwrapPathError drops the path that the caller already quotes.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
