package config

import (
	"fmt"
	"net"
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
	unparsed := map[string]bool{} // keys whose value did not parse: Validate would see a zero
	bad := func(key, format string, args ...any) {
		p = append(p, key+": "+fmt.Sprintf(format, args...))
		unparsed[key] = true
	}
	atoi := func(key string) int {
		s := strings.TrimSpace(lookup(key))
		n, err := strconv.Atoi(s)
		if err != nil {
			bad(key, "%q is not a whole number", s)
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
		Keystore:          strings.ToLower(strings.TrimSpace(lookup(KeyKeystore))),
		K8sSecret:         strings.TrimSpace(lookup(KeyK8sSecret)),
		K8sNamespace:      strings.TrimSpace(lookup(KeyK8sNamespace)),
		LogLevel:          strings.ToLower(strings.TrimSpace(lookup(KeyLogLevel))),
		LogFormat:         strings.ToLower(strings.TrimSpace(lookup(KeyLogFormat))),
	}
	c.Addrs = list(lookup(KeyAddrs), false)
	c.Peers = list(lookup(KeyPeers), false)
	c.Notify = list(lookup(KeyNotify), true)
	boolean := func(key string, dst *bool) {
		if s := strings.TrimSpace(lookup(key)); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				bad(key, "%q is not true or false", s)
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
			bad(key, "must not be empty")
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			bad(key, "%q is not a duration such as 1s or 500ms", s)
			return
		}
		*dst = d
	}
	duration(KeyCheckInterval, &c.CheckInterval)
	duration(KeyAppTokenPeriod, &c.AppTokenPeriod)
	if err := c.Validate(); err != nil {
		// A value that failed to parse fails validation too, as a zero:
		// it is reported once, as the parse problem. Every other problem
		// stays, several for one key included.
		for _, s := range err.(Problems) {
			if key, _, _ := strings.Cut(s, ":"); !unparsed[key] {
				p = append(p, s)
			}
		}
	}
	if len(p) > 0 {
		return c, p
	}
	return c, nil
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
	} else if c.VaultAddr != "" {
		if err := checkAddr(c.VaultAddr); err != nil {
			add(KeyVaultAddr, "%v", err)
		}
	}
	seen := map[string]bool{}
	for _, a := range c.Addrs {
		if err := checkAddr(a); err != nil {
			add(KeyAddrs, "%v", err)
		} else if seen[a] {
			add(KeyAddrs, "%q is listed twice", a)
		}
		seen[a] = true
	}
	if c.InitAddr != "" && !slices.Contains(c.Nodes(), c.InitAddr) {
		add(KeyInitAddr, "%q is not one of the nodes (%s)", c.InitAddr, strings.Join(c.Nodes(), ", "))
	}
	checkShares(add, KeyRecoveryShares, KeyRecoveryThreshold, c.RecoveryShares, c.RecoveryThreshold)
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
	checkShares(add, KeySecretShares, KeySecretThreshold, c.SecretShares, c.SecretThreshold)
	if c.CheckInterval < MinCheckInterval {
		add(KeyCheckInterval, "%v is below the minimum of %v", c.CheckInterval, MinCheckInterval)
	}
	if c.Audit != "" && c.Audit != "stdout" && !strings.HasPrefix(c.Audit, "file:/") {
		add(KeyAudit, "%q is not file:/absolute/path or stdout", c.Audit)
	}
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil {
			add(KeyListen, "%q is not host:port (for example :9100)", c.Listen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			add(KeyListen, "%q: the port must be a number from 1 to 65535", c.Listen)
		}
	}
	if c.AppToken {
		switch {
		case c.AppPolicy == "" || strings.ContainsAny(c.AppPolicy, "/ \t\n") || c.AppPolicy == "root" || c.AppPolicy == "default":
			add(KeyAppPolicy, "%q is not a policy name vault-init may manage", c.AppPolicy)
		case c.AppPolicy != strings.ToLower(c.AppPolicy):
			// Vault stores policy names lowercased; the token's policy
			// would never match the name asked for.
			add(KeyAppPolicy, "%q has capital letters; Vault lowercases policy names: write %q", c.AppPolicy, strings.ToLower(c.AppPolicy))
		}
		if c.AppTokenPeriod < time.Hour {
			add(KeyAppTokenPeriod, "%v is below the minimum of 1h (vault-init renews the token a few times per period)", c.AppTokenPeriod)
		}
	}
	if c.RevokeRoot && !c.AppToken {
		add(KeyRevokeRoot, "needs app-token: with the root token revoked, the application's token is the one left for .env")
	}
	switch c.Keystore {
	case KeystoreFile:
	case KeystoreKubernetes:
		if !dnsSubdomain.MatchString(c.K8sSecret) || len(c.K8sSecret) > 253 {
			add(KeyK8sSecret, "%q is not a Secret name (lowercase letters, digits, '-' and '.', at most 253)", c.K8sSecret)
		}
		if c.K8sNamespace != "" && (!dnsLabel.MatchString(c.K8sNamespace) || len(c.K8sNamespace) > 63) {
			add(KeyK8sNamespace, "%q is not a namespace name (lowercase letters, digits and '-', at most 63)", c.K8sNamespace)
		}
	default:
		add(KeyKeystore, "%q is not file or kubernetes", c.Keystore)
	}
	for _, a := range c.Peers {
		if err := checkAddr(a); err != nil {
			add(KeyPeers, "%v", err)
		}
	}
	if len(c.Peers) > 0 && c.Keystore != KeystoreKubernetes {
		add(KeyPeers, "is only for a shared keystore (keystore kubernetes): with the file keystore, list the nodes in addrs")
	}
	if c.AgeRecipient != "" && !strings.HasPrefix(c.AgeRecipient, "age1") {
		add(KeyAgeRecipient, "is not an age X25519 recipient (age1...)")
	}
	if c.AgeIdentityFile != "" {
		if _, err := os.Stat(c.AgeIdentityFile); err != nil {
			add(KeyAgeIdentityFile, "cannot read %q: %v", c.AgeIdentityFile, unwrapPathError(err))
		}
		if c.AgeRecipient == "" {
			// An identity alone reads an encrypted keystore, but every save
			// would write it back in plaintext.
			add(KeyAgeIdentityFile, "needs age-recipient (the identity's public key, age1...): without it the keystore would be saved unencrypted")
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
	checkNotify(add, c.Notify)
	if len(p) > 0 {
		return p
	}
	return nil
}

// list splits a comma-separated value into its trimmed elements. An empty
// value is no element. keepEmpty keeps an empty element ("a,,b"), for
// Validate to refuse; otherwise empty elements are dropped.
func list(value string, keepEmpty bool) []string {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	var out []string
	for _, e := range strings.Split(value, ",") {
		if e = strings.TrimSpace(e); e != "" || keepEmpty {
			out = append(out, e)
		}
	}
	return out
}
