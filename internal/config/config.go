// Package config holds vault-init's settings as a plain struct. It knows
// nothing of flags, files or viper: the command layer looks each option up
// (flag, then environment, then config file, then default) and hands the raw
// strings to Parse, which reports every problem at once.
package config

import (
	"time"
)

// Secret is a string that never prints itself, so that a token cannot leak
// through a log field, a %v or an error string by accident. Use Reveal where
// the value is really needed.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// TLS is how vault-init verifies Vault's certificate and proves its own.
// The names follow the Vault CLI's environment variables.
type TLS struct {
	CACert     string // VAULT_CACERT: a PEM file of CA certificates
	CAPath     string // VAULT_CAPATH: a directory of PEM CA certificates
	ClientCert string // VAULT_CLIENT_CERT
	ClientKey  string // VAULT_CLIENT_KEY
	ServerName string // VAULT_TLS_SERVER_NAME: SNI and verification name
	SkipVerify bool   // VAULT_SKIP_VERIFY: off unless asked for
}

// Config is everything vault-init needs to run.
type Config struct {
	VaultAddr       string
	Addrs           []string // the nodes of a cluster; empty means VaultAddr alone
	InitAddr        string   // the node to initialize; empty means the first that answers
	TLS             TLS
	Token           Secret // VAULT_TOKEN, used only when the keystore has no root token
	KVMount         string
	KVBasePath      string
	DataDir         string
	SecretShares    int
	SecretThreshold int
	// RecoveryShares and RecoveryThreshold are used instead of the secret
	// ones when Vault has an auto-unseal seal (transit, a cloud KMS).
	RecoveryShares    int
	RecoveryThreshold int
	CheckInterval     time.Duration
	Once              bool   // initialize, unseal, configure, then exit
	Audit             string // "", "stdout" or "file:/path": the audit device to ensure
	Listen            string // "" (off) or host:port for /healthz, /readyz and /metrics
	// AppToken turns on the application's policy (AppPolicy) and its
	// periodic token (renewed within AppTokenPeriod), kept in <data-dir>/app-token.
	AppToken       bool
	AppPolicy      string
	AppTokenPeriod time.Duration
	// RevokeRoot revokes the root token once Vault is configured; vault-init
	// then makes a short-lived one from the stored keys when it needs one.
	RevokeRoot bool
	// AgeRecipient, when set, encrypts the keystore to it (filippo.io/age).
	// AgeIdentityFile is the identity that decrypts it, mounted apart.
	AgeRecipient    string
	AgeIdentityFile string
	// Keystore is where the keys are kept: KeystoreFile (init.json in
	// DataDir) or KeystoreKubernetes (the Secret K8sSecret in
	// K8sNamespace; "" means the pod's own namespace, else default).
	Keystore     string
	K8sSecret    string
	K8sNamespace string
	// Peers are the API addresses of the nodes of a cluster whose
	// vault-init share the keystore (Kubernetes sidecars): asked before an
	// init, never unsealed or initialized.
	Peers []string

	LogLevel  string
	LogFormat string
}

// The keystores.
const (
	KeystoreFile       = "file"
	KeystoreKubernetes = "kubernetes"
)

// Option describes one setting: its flag and config-file key, its
// environment variable and its default. Options is the single table from
// which the command layer builds flags and environment bindings.
type Option struct {
	Key     string // flag name and config-file key
	Env     string // environment variable
	Default string
	Usage   string
	EnvOnly bool // no flag and no config-file key (secrets must not sit in argv or files)
}

// Option keys.
const (
	KeyVaultAddr         = "vault-addr"
	KeyCACert            = "ca-cert"
	KeyCAPath            = "ca-path"
	KeyClientCert        = "client-cert"
	KeyClientKey         = "client-key"
	KeyTLSServerName     = "tls-server-name"
	KeySkipVerify        = "tls-skip-verify"
	KeyToken             = "token"
	KeyKVMount           = "kv-mount"
	KeyKVBasePath        = "kv-base-path"
	KeyDataDir           = "data-dir"
	KeySecretShares      = "secret-shares"
	KeySecretThreshold   = "secret-threshold"
	KeyAddrs             = "addrs"
	KeyInitAddr          = "init-addr"
	KeyRecoveryShares    = "recovery-shares"
	KeyRecoveryThreshold = "recovery-threshold"
	KeyOnce              = "once"
	KeyAudit             = "audit"
	KeyListen            = "listen"
	KeyCheckInterval     = "check-interval"
	KeyAppToken          = "app-token"
	KeyAppPolicy         = "app-policy"
	KeyAppTokenPeriod    = "app-token-period"
	KeyRevokeRoot        = "revoke-root"
	KeyAgeRecipient      = "age-recipient"
	KeyAgeIdentityFile   = "age-identity-file"
	KeyKeystore          = "keystore"
	KeyK8sSecret         = "k8s-secret"
	KeyK8sNamespace      = "k8s-namespace"
	KeyPeers             = "peers"
	KeyLogLevel          = "log-level"
	KeyLogFormat         = "log-format"
)

// Options lists every setting, in the order `--help` shows them.
var Options = []Option{
	{Key: KeyVaultAddr, Env: "VAULT_ADDR", Default: "http://vault:8200", Usage: "address of the Vault API"},
	{Key: KeyCACert, Env: "VAULT_CACERT", Usage: "PEM file of CA certificates that sign Vault's certificate"},
	{Key: KeyCAPath, Env: "VAULT_CAPATH", Usage: "directory of PEM CA certificates"},
	{Key: KeyClientCert, Env: "VAULT_CLIENT_CERT", Usage: "PEM client certificate for TLS client authentication"},
	{Key: KeyClientKey, Env: "VAULT_CLIENT_KEY", Usage: "PEM private key of the client certificate"},
	{Key: KeyTLSServerName, Env: "VAULT_TLS_SERVER_NAME", Usage: "name to use as SNI and to verify Vault's certificate"},
	{Key: KeySkipVerify, Env: "VAULT_SKIP_VERIFY", Default: "false", Usage: "do not verify Vault's TLS certificate (insecure)"},
	{Key: KeyToken, Env: "VAULT_TOKEN", EnvOnly: true, Usage: "token used only when the keystore holds no root token"},
	{Key: KeyKVMount, Env: "VAULT_KV_MOUNT", Default: "aurora", Usage: "path of the KV version 2 mount to ensure"},
	{Key: KeyKVBasePath, Env: "VAULT_KV_BASE_PATH", Default: "users", Usage: "base path of Aurora's secrets inside the mount"},
	{Key: KeyDataDir, Env: "VAULT_INIT_DATA_DIR", Default: "/vault-init", Usage: "directory that keeps init.json (the vault-init volume)"},
	{Key: KeySecretShares, Env: "VAULT_INIT_SECRET_SHARES", Default: "5", Usage: "number of unseal key shares to create at init"},
	{Key: KeySecretThreshold, Env: "VAULT_INIT_SECRET_THRESHOLD", Default: "3", Usage: "number of shares needed to unseal"},
	{Key: KeyAddrs, Env: "VAULT_INIT_ADDRS", Usage: "comma-separated API addresses of every node of a cluster (instead of vault-addr)"},
	{Key: KeyInitAddr, Env: "VAULT_INIT_INIT_ADDR", Usage: "the node to initialize (default: the first of addrs that answers)"},
	{Key: KeyRecoveryShares, Env: "VAULT_INIT_RECOVERY_SHARES", Default: "5", Usage: "recovery key shares to create at init, with an auto-unseal seal"},
	{Key: KeyRecoveryThreshold, Env: "VAULT_INIT_RECOVERY_THRESHOLD", Default: "3", Usage: "recovery shares needed, with an auto-unseal seal"},
	{Key: KeyAudit, Env: "VAULT_INIT_AUDIT", Usage: "audit device to enable: file:/vault/logs/audit.log or stdout (off by default)"},
	{Key: KeyListen, Env: "VAULT_INIT_LISTEN", Usage: "host:port to serve /healthz, /readyz and Prometheus /metrics on (off by default)"},
	{Key: KeyAppToken, Env: "VAULT_INIT_APP_TOKEN", Default: "false", Usage: "issue the application a periodic token limited to kv-mount/kv-base-path, saved as <data-dir>/app-token"},
	{Key: KeyAppPolicy, Env: "VAULT_INIT_APP_POLICY", Default: "aurora-app", Usage: "name of the application's policy"},
	{Key: KeyAppTokenPeriod, Env: "VAULT_INIT_APP_TOKEN_PERIOD", Default: "72h", Usage: "period of the application's token: it expires unless renewed within it"},
	{Key: KeyRevokeRoot, Env: "VAULT_INIT_REVOKE_ROOT", Default: "false", Usage: "revoke the root token after setup; make a short-lived one from the keys when needed"},
	{Key: KeyAgeRecipient, Env: "VAULT_INIT_AGE_RECIPIENT", Usage: "age recipient (age1...) to encrypt the keystore to (off by default)"},
	{Key: KeyAgeIdentityFile, Env: "VAULT_INIT_AGE_IDENTITY_FILE", Usage: "age identity file that decrypts the keystore (mount it apart, e.g. as a Docker secret)"},
	{Key: KeyKeystore, Env: "VAULT_INIT_KEYSTORE", Default: KeystoreFile, Usage: "where the keys are kept: file (init.json in data-dir) or kubernetes (a Secret)"},
	{Key: KeyK8sSecret, Env: "VAULT_INIT_K8S_SECRET", Default: "vault-init", Usage: "name of the Secret that holds the keys, with keystore kubernetes"},
	{Key: KeyK8sNamespace, Env: "VAULT_INIT_K8S_NAMESPACE", Usage: "namespace of that Secret (default: the pod's own namespace, else default)"},
	{Key: KeyPeers, Env: "VAULT_INIT_PEERS", Usage: "comma-separated API addresses of the cluster's nodes (its own may be listed), with keystore kubernetes: no init while one of them is initialized"},
	{Key: KeyOnce, Env: "VAULT_INIT_ONCE", Default: "false", Usage: "initialize, unseal and configure, then exit instead of watching"},
	{Key: KeyCheckInterval, Env: "VAULT_INIT_CHECK_INTERVAL", Default: "1s", Usage: "how often to check Vault while it is healthy"},
	{Key: KeyLogLevel, Env: "VAULT_INIT_LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"},
	{Key: KeyLogFormat, Env: "VAULT_INIT_LOG_FORMAT", Default: "console", Usage: "console or json"},
}

// IsKey reports whether key names an option that may appear in a config file.
func IsKey(key string) bool {
	for _, o := range Options {
		if o.Key == key && !o.EnvOnly {
			return true
		}
	}
	return false
}

// Nodes lists the API addresses of the nodes to watch: Addrs, or VaultAddr
// alone when no cluster is configured.
func (c Config) Nodes() []string {
	if len(c.Addrs) > 0 {
		return c.Addrs
	}
	return []string{c.VaultAddr}
}
