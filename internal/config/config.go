// Package config holds vault-init's settings as a plain struct. It knows
// nothing of flags, files or viper: the command layer looks each option up
// (flag, then environment, then config file, then default) and hands the raw
// strings to Parse, which reports every problem at once.
package config

//go:generate go run ./gendoc -page ../../docs/configuration.md

import (
	"fmt"
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

// Secrets is a list of secret strings (URLs that carry a token) that never
// prints itself. It is a []string to everything else: range over it, or
// pass it where a []string is taken, where the values are really needed.
type Secrets []string

// String hides the values, and tells only how many there are.
func (s Secrets) String() string {
	if len(s) == 0 {
		return ""
	}
	return fmt.Sprintf("[%d redacted]", len(s))
}

// GoString hides the values from %#v too.
func (s Secrets) GoString() string { return s.String() }

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
	// Notify are the URLs that events are sent to (VAULT_INIT_NOTIFY): each
	// an absolute URL with a scheme and a host, none empty. Secret: a
	// webhook URL carries its token.
	Notify Secrets

	LogLevel  string
	LogFormat string
}

// The keystores.
const (
	KeystoreFile       = "file"
	KeystoreKubernetes = "kubernetes"
)

// Option describes one setting: its flag and config-file key, its
// environment variable, its kind and its default. Options is the single
// table from which the command layer builds typed flags and environment
// bindings, and from which docs/configuration.md's table is generated
// (`make docs`): a new setting is one Option, one Config field and its
// line in Parse.
type Option struct {
	Key     string // flag name and config-file key
	Env     string // environment variable
	Kind    Kind   // the type of the value: the flag's type and how Parse reads it
	Default string // as it would be typed; a Secret option has none
	Usage   string // one line for --help (no backquotes: pflag would take them as the value's name)
	Doc     string // what the configuration page adds to Usage (Markdown): limits, links
	EnvOnly bool   // no flag and no config-file key (secrets must not sit in argv or files)
	// Secret marks a value that carries a credential: it is never echoed
	// (errors name it by position, Config prints it as [redacted]).
	Secret bool
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
	KeyNotify            = "notify"
)

// Options lists every setting, in the order of the configuration page
// (--help sorts them by name).
var Options = []Option{
	{Key: KeyVaultAddr, Env: "VAULT_ADDR", Kind: String, Default: "http://vault:8200", Usage: "address of the Vault API"},
	{Key: KeyCACert, Env: "VAULT_CACERT", Kind: String, Usage: "PEM file of CA certificates that sign Vault's certificate"},
	{Key: KeyCAPath, Env: "VAULT_CAPATH", Kind: String, Usage: "directory of PEM CA certificates"},
	{Key: KeyClientCert, Env: "VAULT_CLIENT_CERT", Kind: String, Usage: "PEM client certificate for TLS client authentication"},
	{Key: KeyClientKey, Env: "VAULT_CLIENT_KEY", Kind: String, Usage: "PEM private key of the client certificate"},
	{Key: KeyTLSServerName, Env: "VAULT_TLS_SERVER_NAME", Kind: String, Usage: "name to use as SNI and to verify Vault's certificate"},
	{Key: KeySkipVerify, Env: "VAULT_SKIP_VERIFY", Kind: Bool, Default: "false", Usage: "do not verify Vault's TLS certificate (insecure)",
		Doc: "TLS is verified by default."},
	{Key: KeyToken, Env: "VAULT_TOKEN", Kind: String, EnvOnly: true, Secret: true, Usage: "token used only when the keystore holds no root token"},
	{Key: KeyKVMount, Env: "VAULT_KV_MOUNT", Kind: String, Default: "aurora", Usage: "path of the KV version 2 mount to ensure"},
	{Key: KeyKVBasePath, Env: "VAULT_KV_BASE_PATH", Kind: String, Default: "users", Usage: "base path of Aurora's secrets inside the mount"},
	{Key: KeyDataDir, Env: "VAULT_INIT_DATA_DIR", Kind: String, Default: "/vault-init", Usage: "directory that keeps init.json (the vault-init volume)"},
	{Key: KeySecretShares, Env: "VAULT_INIT_SECRET_SHARES", Kind: Int, Default: "5", Usage: "number of unseal key shares to create at init",
		Doc: "1 to 255."},
	{Key: KeySecretThreshold, Env: "VAULT_INIT_SECRET_THRESHOLD", Kind: Int, Default: "3", Usage: "number of shares needed to unseal",
		Doc: "At least 2 when the shares are more than 1."},
	{Key: KeyAddrs, Env: "VAULT_INIT_ADDRS", Kind: List, Usage: "comma-separated API addresses of every node of a cluster (instead of vault-addr)",
		Doc: "`VAULT_ADDR` alone means one node."},
	{Key: KeyInitAddr, Env: "VAULT_INIT_INIT_ADDR", Kind: String, Usage: "the node to initialize (default: the first of addrs that answers)",
		Doc: "The nodes of `addrs` are tried in their order."},
	{Key: KeyRecoveryShares, Env: "VAULT_INIT_RECOVERY_SHARES", Kind: Int, Default: "5", Usage: "recovery key shares to create at init, with an auto-unseal seal"},
	{Key: KeyRecoveryThreshold, Env: "VAULT_INIT_RECOVERY_THRESHOLD", Kind: Int, Default: "3", Usage: "recovery shares needed, with an auto-unseal seal"},
	{Key: KeyAudit, Env: "VAULT_INIT_AUDIT", Kind: String, Usage: "audit device to enable: file:/vault/logs/audit.log or stdout (off by default)"},
	{Key: KeyListen, Env: "VAULT_INIT_LISTEN", Kind: String, Usage: "host:port to serve /healthz, /readyz and Prometheus /metrics on (off by default)"},
	{Key: KeyNotify, Env: "VAULT_INIT_NOTIFY", Kind: List, Secret: true,
		Usage: "comma-separated URLs to notify of events (off by default): http:// or https:// webhooks, Slack's among them; secret, as a URL may carry a token: the env var keeps it out of ps",
		Doc:   "Each an http or https URL with a host; an empty element (a stray comma) is refused, and a problem names a URL by its position. See [notifications](operations.md#notifications)."},
	{Key: KeyAppToken, Env: "VAULT_INIT_APP_TOKEN", Kind: Bool, Default: "false", Usage: "issue the application a periodic token limited to kv-mount/kv-base-path, saved as <data-dir>/app-token",
		Doc: "With the kubernetes keystore, in the keys Secret's `app-token`."},
	{Key: KeyAppPolicy, Env: "VAULT_INIT_APP_POLICY", Kind: String, Default: "aurora-app", Usage: "name of the application's policy"},
	{Key: KeyAppTokenPeriod, Env: "VAULT_INIT_APP_TOKEN_PERIOD", Kind: Duration, Default: "72h", Usage: "period of the application's token: it expires unless renewed within it",
		Doc: "At least 1h."},
	{Key: KeyRevokeRoot, Env: "VAULT_INIT_REVOKE_ROOT", Kind: Bool, Default: "false", Usage: "revoke the root token after setup; make a short-lived one from the keys when needed",
		Doc: "Needs `app-token`."},
	{Key: KeyAgeRecipient, Env: "VAULT_INIT_AGE_RECIPIENT", Kind: String, Usage: "age recipient (age1...) to encrypt the keystore to (off by default)"},
	{Key: KeyAgeIdentityFile, Env: "VAULT_INIT_AGE_IDENTITY_FILE", Kind: String, Usage: "age identity file that decrypts the keystore (mount it apart, e.g. as a Docker secret)",
		Doc: "Needs `age-recipient`."},
	{Key: KeyKeystore, Env: "VAULT_INIT_KEYSTORE", Kind: String, Default: KeystoreFile, Usage: "where the keys are kept: file (init.json in data-dir) or kubernetes (a Secret)",
		Doc: "See [kubernetes.md](kubernetes.md)."},
	{Key: KeyK8sSecret, Env: "VAULT_INIT_K8S_SECRET", Kind: String, Default: "vault-init", Usage: "name of the Secret that holds the keys, with keystore kubernetes"},
	{Key: KeyK8sNamespace, Env: "VAULT_INIT_K8S_NAMESPACE", Kind: String, Usage: "namespace of that Secret (default: the pod's own namespace, else default)",
		Doc: "Outside a cluster: the kubeconfig context's namespace, else `default`."},
	{Key: KeyPeers, Env: "VAULT_INIT_PEERS", Kind: List, Usage: "comma-separated API addresses of the cluster's nodes (its own may be listed), with keystore kubernetes: no init while one of them is initialized",
		Doc: "The Helm chart lists every replica."},
	{Key: KeyOnce, Env: "VAULT_INIT_ONCE", Kind: Bool, Default: "false", Usage: "initialize, unseal and configure, then exit instead of watching"},
	{Key: KeyCheckInterval, Env: "VAULT_INIT_CHECK_INTERVAL", Kind: Duration, Default: "1s", Usage: "how often to check Vault while it is healthy",
		Doc: "At least 100ms."},
	{Key: KeyLogLevel, Env: "VAULT_INIT_LOG_LEVEL", Kind: String, Default: "info", Usage: "debug, info, warn or error"},
	{Key: KeyLogFormat, Env: "VAULT_INIT_LOG_FORMAT", Kind: String, Default: "console", Usage: "console or json"},
}

// Lookup returns the option whose key is key.
func Lookup(key string) (Option, bool) {
	for _, o := range Options {
		if o.Key == key {
			return o, true
		}
	}
	return Option{}, false
}

// Nodes lists the API addresses of the nodes to watch: Addrs, or VaultAddr
// alone when no cluster is configured.
func (c Config) Nodes() []string {
	if len(c.Addrs) > 0 {
		return c.Addrs
	}
	return []string{c.VaultAddr}
}
