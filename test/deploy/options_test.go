package deploy

import (
	"testing"
)

// notFromEnv lists the options of config.Options that the compose files do
// not take from .env, each with the reason. Every other option passes
// through as ${ENV:-}: an empty value is unset for vault-init (viper's
// AllowEmptyEnv is off), so config.Options' default applies. A new option
// fails TestComposePassesEveryOption until it is passed or listed here.
var notFromEnv = map[string]string{
	"VAULT_ADDR": "fixed by the stack: vault-init talks to the vault service on the compose network; " +
		".env's VAULT_ADDR is Aurora's own setting",
	"VAULT_INIT_ADDRS":     "fixed by the stack: one node (docker-compose.yml) or the three nodes (docker-compose.ha.yml)",
	"VAULT_INIT_INIT_ADDR": "fixed by the stack: the first node that answers initializes",
	"VAULT_INIT_DATA_DIR":  "fixed by the stack: the image sets it to /vault-init, where the keystore volume is mounted",
	"VAULT_CACERT":         "a TLS file path: a host path means nothing inside the container, and the stack's listener is plain HTTP",
	"VAULT_CAPATH":         "a TLS file path: a host path means nothing inside the container, and the stack's listener is plain HTTP",
	"VAULT_CLIENT_CERT":    "a TLS file path: a host path means nothing inside the container, and the stack's listener is plain HTTP",
	"VAULT_CLIENT_KEY":     "a TLS file path: a host path means nothing inside the container, and the stack's listener is plain HTTP",
	"VAULT_TOKEN": ".env's VAULT_TOKEN is Aurora's token (the root token, or the app token with VAULT_INIT_APP_TOKEN); " +
		"vault-init keeps its own root token in its keystore and must not fall back to the application's",
	"VAULT_INIT_KEYSTORE": "fixed by the stack: the compose stacks keep the keys on the vault-init volume (file); " +
		"the kubernetes keystore is the Helm chart's (deploy/helm/vault-init)",
	"VAULT_INIT_K8S_SECRET":    "used only with the kubernetes keystore, which the compose stacks do not use",
	"VAULT_INIT_K8S_NAMESPACE": "used only with the kubernetes keystore, which the compose stacks do not use",
	"VAULT_INIT_PEERS":         "used only with the kubernetes keystore, which the compose stacks do not use",
	"VAULT_INIT_AGE_IDENTITY_FILE": "a path inside the container: the age overlay sets it to the Docker secret it mounts " +
		"(the host file is VAULT_INIT_AGE_IDENTITY)",
}

// TestComposePassesEveryOption: every option of config.Options set in .env
// reaches vault-init, in every stack, unless notFromEnv says why not; and
// then .env cannot change it.
func TestComposePassesEveryOption(t *testing.T) {
	opts := configOptions(t)
	known := map[string]bool{}
	var probes []string
	for _, o := range opts {
		known[o.Env] = true
		probes = append(probes, o.Env+"=probe-"+o.Env)
	}
	for reason := range notFromEnv {
		if !known[reason] {
			t.Errorf("notFromEnv lists %s, which is not an option of config.Options", reason)
		}
	}
	for name, files := range stacks {
		unset := service(t, loadFiles(t, files), "vault-init")
		set := service(t, loadFiles(t, files, probes...), "vault-init")
		for _, o := range opts {
			reason, excluded := notFromEnv[o.Env]
			got, dflt := env(set, o.Env), env(unset, o.Env)
			switch {
			case excluded && got == "probe-"+o.Env:
				t.Errorf("%s: %s is taken from .env, but must not be: %s", name, o.Env, reason)
			case excluded:
			case got != "probe-"+o.Env:
				t.Errorf("%s: %s set in .env does not reach vault-init (got %q): pass it through as ${%s:-}, or add it to notFromEnv with the reason",
					name, o.Env, got, o.Env)
			case dflt != "" && !(name == "age" && o.Env == "VAULT_INIT_AGE_RECIPIENT"):
				t.Errorf("%s: %s defaults to %q in compose; leave the default to config.Options (%q)", name, o.Env, dflt, o.Default)
			}
		}
	}
}

// TestSeedDefaults: the compose files leave the defaults to config.Options,
// so the seed's mount and base path must be the defaults there.
func TestSeedDefaults(t *testing.T) {
	want := map[string]string{"VAULT_KV_MOUNT": "aurora", "VAULT_KV_BASE_PATH": "users", "VAULT_INIT_APP_TOKEN": "false",
		"VAULT_INIT_REVOKE_ROOT": "false", "VAULT_INIT_AUDIT": ""}
	for _, o := range configOptions(t) {
		if w, ok := want[o.Env]; ok && o.Default != w {
			t.Errorf("config.Options: %s defaults to %q, want %q", o.Env, o.Default, w)
		}
	}
}
