package vaultclient

import (
	"os"

	"github.com/hashicorp/vault/api"
)

// apiVariables are the environment variables the api package reads by
// itself (client.go's DefaultConfig, ReadEnvironment and NewClient; VAULT_WRAP_TTL
// in logical.go), as of api v1.23.0.
var apiVariables = []string{
	api.EnvVaultAddress, api.EnvVaultAgentAddr, api.EnvVaultCACert, api.EnvVaultCACertBytes,
	api.EnvVaultCAPath, api.EnvVaultClientCert, api.EnvVaultClientKey, api.EnvVaultClientTimeout,
	api.EnvVaultHeaders, api.EnvVaultSRVLookup, api.EnvVaultSkipVerify, api.EnvVaultNamespace,
	api.EnvVaultTLSServerName, api.EnvVaultWrapTTL, api.EnvVaultMaxRetries, api.EnvVaultToken,
	api.EnvVaultMFA, api.EnvRateLimit, api.EnvHTTPProxy, api.EnvVaultProxyAddr, api.EnvVaultDisableRedirects,
}

// forgetEnvironment removes apiVariables from the process environment.
//
// Building the api.Config by hand keeps their values out of a client, but
// not out of api.NewClient, which every Clone calls: it parses them again
// through DefaultConfig and fails on one it cannot parse (a VAULT_CACERT that
// names no file fails every clone even when --ca-cert names the right one),
// and it sets VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS on the new
// client. By the time a client is made the command layer has read what
// vault-init takes from them into config.Config, so nothing else needs them.
// (os.Unsetenv is safe for concurrent use; /proc/PID/environ keeps what the
// process started with.)
func forgetEnvironment() {
	for _, name := range apiVariables {
		_ = os.Unsetenv(name) // fails only for a name with '=' or NUL in it
	}
}
