package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MinCheckInterval keeps a mistyped interval from turning the watch loop
// into a busy loop against Vault.
const MinCheckInterval = 100 * time.Millisecond

// Problems is every reason a configuration was refused. Its message lists
// them all, so that an operator fixes everything in one go.
type Problems []string

func (p Problems) Error() string {
	return "invalid configuration:\n  - " + strings.Join(p, "\n  - ")
}

// Parse builds a Config from raw option values (lookup returns "" for an
// unset option) and validates it. The error, if any, is a Problems value
// that lists every problem found, parse errors and invalid values alike.
func Parse(lookup func(key string) string) (Config, error) {
	var p Problems
	atoi := func(key string) int {
		s := strings.TrimSpace(lookup(key))
		n, err := strconv.Atoi(s)
		if err != nil {
			p = append(p, fmt.Sprintf("%s: %q is not a whole number", key, s))
		}
		return n
	}
	c := Config{
		VaultAddr: strings.TrimSpace(lookup(KeyVaultAddr)),
		TLS: TLS{
			CACert:     lookup(KeyCACert),
			CAPath:     lookup(KeyCAPath),
			ClientCert: lookup(KeyClientCert),
			ClientKey:  lookup(KeyClientKey),
			ServerName: lookup(KeyTLSServerName),
		},
		Token:             Secret(strings.TrimSpace(lookup(KeyToken))),
		KVMount:           strings.Trim(strings.TrimSpace(lookup(KeyKVMount)), "/"),
		KVBasePath:        strings.Trim(strings.TrimSpace(lookup(KeyKVBasePath)), "/"),
		DataDir:           strings.TrimSpace(lookup(KeyDataDir)),
		SecretShares:      atoi(KeySecretShares),
		SecretThreshold:   atoi(KeySecretThreshold),
		RecoveryShares:    atoi(KeyRecoveryShares),
		RecoveryThreshold: atoi(KeyRecoveryThreshold),
		InitAddr:          strings.TrimSpace(lookup(KeyInitAddr)),
		Audit:             strings.TrimSpace(lookup(KeyAudit)),
		Listen:            strings.TrimSpace(lookup(KeyListen)),
		AppPolicy:         strings.TrimSpace(lookup(KeyAppPolicy)),
		AgeRecipient:      strings.TrimSpace(lookup(KeyAgeRecipient)),
		AgeIdentityFile:   strings.TrimSpace(lookup(KeyAgeIdentityFile)),
		LogLevel:          strings.ToLower(strings.TrimSpace(lookup(KeyLogLevel))),
		LogFormat:         strings.ToLower(strings.TrimSpace(lookup(KeyLogFormat))),
	}
	for _, a := range strings.Split(lookup(KeyAddrs), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Addrs = append(c.Addrs, a)
		}
	}
	boolean := func(key string, dst *bool) {
		if s := strings.TrimSpace(lookup(key)); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				p = append(p, fmt.Sprintf("%s: %q is not true or false", key, s))
			}
			*dst = b
		}
	}
	boolean(KeyOnce, &c.Once)
	boolean(KeySkipVerify, &c.TLS.SkipVerify)
	boolean(KeyAppToken, &c.AppToken)
	boolean(KeyRevokeRoot, &c.RevokeRoot)
	duration := func(key string, dst *time.Duration) {
		s := strings.TrimSpace(lookup(key))
		if s == "" {
			p = append(p, key+": must not be empty")
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			p = append(p, fmt.Sprintf("%s: %q is not a duration such as 1s or 500ms", key, s))
			return
		}
		*dst = d
	}
	duration(KeyCheckInterval, &c.CheckInterval)
	duration(KeyAppTokenPeriod, &c.AppTokenPeriod)
	if err := c.Validate(); err != nil {
		p = append(p, err.(Problems)...)
	}
	// A value that failed to parse also fails validation (as zero); report it once.
	p = dedupeByKey(p)
	if len(p) > 0 {
		return c, p
	}
	return c, nil
}

// dedupeByKey keeps the first problem reported for each option.
func dedupeByKey(p Problems) Problems {
	seen := map[string]bool{}
	var out Problems
	for _, s := range p {
		key, _, _ := strings.Cut(s, ":")
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, s)
	}
	return out
}

// Validate checks a Config that is already typed. It returns a Problems
// value listing every invalid field, or nil.
func (c Config) Validate() error {
	var p Problems
	add := func(key, format string, args ...any) {
		p = append(p, key+": "+fmt.Sprintf(format, args...))
	}
	if c.VaultAddr == "" && len(c.Addrs) == 0 {
		add(KeyVaultAddr, "must not be empty")
	} else if c.VaultAddr != "" && !validAddr(c.VaultAddr) {
		add(KeyVaultAddr, "%q is not an http:// or https:// address with a host", c.VaultAddr)
	}
	seen := map[string]bool{}
	for _, a := range c.Addrs {
		if !validAddr(a) {
			add(KeyAddrs, "%q is not an http:// or https:// address with a host", a)
		} else if seen[a] {
			add(KeyAddrs, "%q is listed twice", a)
		}
		seen[a] = true
	}
	if c.InitAddr != "" && !slices.Contains(c.Nodes(), c.InitAddr) {
		add(KeyInitAddr, "%q is not one of the nodes (%s)", c.InitAddr, strings.Join(c.Nodes(), ", "))
	}
	switch {
	case c.RecoveryShares < 1 || c.RecoveryShares > 255:
		add(KeyRecoveryShares, "%d is out of range (1 to 255)", c.RecoveryShares)
	case c.RecoveryThreshold < 1 || c.RecoveryThreshold > c.RecoveryShares:
		add(KeyRecoveryThreshold, "%d must be between 1 and recovery-shares (%d)", c.RecoveryThreshold, c.RecoveryShares)
	}
	if c.KVMount == "" {
		add(KeyKVMount, "must not be empty")
	} else if strings.Contains(c.KVMount, "..") || strings.ContainsAny(c.KVMount, " \t\n") {
		add(KeyKVMount, "%q is not a valid mount path", c.KVMount)
	}
	if strings.Contains(c.KVBasePath, "..") {
		add(KeyKVBasePath, "%q must not contain ..", c.KVBasePath)
	}
	if c.DataDir == "" {
		add(KeyDataDir, "must not be empty")
	}
	switch {
	case c.SecretShares < 1 || c.SecretShares > 255:
		add(KeySecretShares, "%d is out of range (1 to 255)", c.SecretShares)
	case c.SecretThreshold < 1:
		add(KeySecretThreshold, "%d must be at least 1", c.SecretThreshold)
	case c.SecretThreshold > c.SecretShares:
		add(KeySecretThreshold, "%d is above secret-shares (%d)", c.SecretThreshold, c.SecretShares)
	case c.SecretShares > 1 && c.SecretThreshold < 2:
		// Vault refuses this too: one share would unseal alone.
		add(KeySecretThreshold, "must be at least 2 when secret-shares is above 1")
	}
	if c.CheckInterval < MinCheckInterval {
		add(KeyCheckInterval, "%v is below the minimum of %v", c.CheckInterval, MinCheckInterval)
	}
	if c.Audit != "" && c.Audit != "stdout" && !strings.HasPrefix(c.Audit, "file:/") {
		add(KeyAudit, "%q is not file:/absolute/path or stdout", c.Audit)
	}
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
			add(KeyListen, "%q is not host:port (for example :9100)", c.Listen)
		}
	}
	if c.AppToken {
		if c.AppPolicy == "" || strings.ContainsAny(c.AppPolicy, "/ \t\n") || c.AppPolicy == "root" || c.AppPolicy == "default" {
			add(KeyAppPolicy, "%q is not a policy name vault-init may manage", c.AppPolicy)
		}
		if c.AppTokenPeriod < time.Hour {
			add(KeyAppTokenPeriod, "%v is below the minimum of 1h (vault-init renews the token a few times per period)", c.AppTokenPeriod)
		}
	}
	if c.RevokeRoot && !c.AppToken {
		add(KeyRevokeRoot, "needs app-token: with the root token revoked, the application's token is the one left for .env")
	}
	if c.AgeRecipient != "" && !strings.HasPrefix(c.AgeRecipient, "age1") {
		add(KeyAgeRecipient, "is not an age X25519 recipient (age1...)")
	}
	if c.AgeIdentityFile != "" {
		if _, err := os.Stat(c.AgeIdentityFile); err != nil {
			add(KeyAgeIdentityFile, "cannot read %q: %v", c.AgeIdentityFile, unwrapPathError(err))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add(KeyLogLevel, "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "console", "json":
	default:
		add(KeyLogFormat, "%q is not one of console, json", c.LogFormat)
	}
	for _, f := range []struct{ key, path string }{
		{KeyCACert, c.TLS.CACert}, {KeyCAPath, c.TLS.CAPath},
		{KeyClientCert, c.TLS.ClientCert}, {KeyClientKey, c.TLS.ClientKey},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			add(f.key, "cannot read %q: %v", f.path, unwrapPathError(err))
		}
	}
	if (c.TLS.ClientCert == "") != (c.TLS.ClientKey == "") {
		add(KeyClientCert, "client-cert and client-key must be set together")
	}
	if len(p) > 0 {
		return p
	}
	return nil
}

func validAddr(a string) bool {
	u, err := url.Parse(a)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// unwrapPathError drops the path that the caller already quotes.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
