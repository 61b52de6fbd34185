package deploy

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestHelmValuesReachThePods: each value of the chart reaches the setting
// it names (a value that does nothing is the lesson-15 bug).
func TestHelmValuesReachThePods(t *testing.T) {
	cases := []struct {
		name  string
		vals  map[string]any
		check func(t *testing.T, r rendering)
	}{
		{"vault-init settings", map[string]any{"vaultInit": map[string]any{
			"checkInterval": "3s", "kvMount": "kv-x", "appToken": true, "revokeRoot": true, "logFormat": "console", "logLevel": "debug",
			"extraEnv": []any{map[string]any{"name": "VAULT_INIT_SECRET_SHARES", "value": "7"}},
		}}, func(t *testing.T, r rendering) {
			c := sidecar(t, only[*appsv1.StatefulSet](t, r))
			for name, want := range map[string]string{
				"VAULT_INIT_CHECK_INTERVAL": "3s", "VAULT_KV_MOUNT": "kv-x", "VAULT_INIT_APP_TOKEN": "true",
				"VAULT_INIT_REVOKE_ROOT": "true", "VAULT_INIT_LOG_FORMAT": "console", "VAULT_INIT_LOG_LEVEL": "debug",
				"VAULT_INIT_SECRET_SHARES": "7",
			} {
				if got := envOf(t, c, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		}},
		{"keys Secret name", map[string]any{"keystore": map[string]any{"secretName": "my-keys"}}, func(t *testing.T, r rendering) {
			if got := envOf(t, sidecar(t, only[*appsv1.StatefulSet](t, r)), "VAULT_INIT_K8S_SECRET"); got != "my-keys" {
				t.Errorf("VAULT_INIT_K8S_SECRET = %q", got)
			}
			checkLeastPrivilege(t, only[*rbacv1.Role](t, r).Rules, "my-keys")
		}},
		{"images", map[string]any{
			"vault":     map[string]any{"image": map[string]any{"repository": "reg/vault", "tag": "9.9.9", "pullPolicy": "Always"}},
			"vaultInit": map[string]any{"image": map[string]any{"repository": "reg/vault-init", "tag": "v2", "pullPolicy": "Never"}},
		}, func(t *testing.T, r rendering) {
			spec := only[*appsv1.StatefulSet](t, r).Spec.Template.Spec
			for name, want := range map[string]string{"vault": "reg/vault:9.9.9 Always", "vault-init": "reg/vault-init:v2 Never"} {
				c := container(t, spec, name)
				if got := c.Image + " " + string(c.ImagePullPolicy); got != want {
					t.Errorf("%s: %s, want %s", name, got, want)
				}
			}
		}},
		{"storage", map[string]any{"storage": map[string]any{"size": "3Gi", "storageClass": "fast"}}, func(t *testing.T, r rendering) {
			pvc := only[*appsv1.StatefulSet](t, r).Spec.VolumeClaimTemplates
			if len(pvc) != 1 || pvc[0].Spec.StorageClassName == nil || *pvc[0].Spec.StorageClassName != "fast" ||
				pvc[0].Spec.Resources.Requests.Storage().String() != "3Gi" {
				t.Errorf("volumeClaimTemplates %+v", pvc)
			}
		}},
		{"default image tags", nil, func(t *testing.T, r rendering) {
			spec := only[*appsv1.StatefulSet](t, r).Spec.Template.Spec
			if got := container(t, spec, "vault").Image; got != "hashicorp/vault:1.21.0" {
				t.Errorf("vault image %s", got)
			}
			if got := container(t, spec, "vault-init").Image; !strings.HasPrefix(got, "vault-init:") || strings.HasSuffix(got, ":") {
				t.Errorf("vault-init image %s", got)
			}
		}},
		{"TLS", map[string]any{"tls": map[string]any{"secretName": "t", "serverName": "vault.example"}}, func(t *testing.T, r rendering) {
			spec := only[*appsv1.StatefulSet](t, r).Spec.Template.Spec
			for _, name := range []string{"vault", "vault-init"} {
				c := container(t, spec, name)
				if envOf(t, c, "VAULT_CACERT") != "/vault/tls/ca.crt" || envOf(t, c, "VAULT_TLS_SERVER_NAME") != "vault.example" {
					t.Errorf("%s: TLS settings %+v", name, c.Env)
				}
			}
			c, _ := retryJoinAddrs(t, only[*corev1.ConfigMap](t, r).Data["vault.hcl"])
			if tcp := c.Listener; tcp["tls_cert_file"] != "/vault/tls/tls.crt" || tcp["tls_disable"] != nil {
				t.Errorf("listener %v", tcp)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, mustRender(t, tc.vals)) })
	}
}

// TestHelmRefusesBadValues: values that would fail inside a pod, or silently,
// fail the install instead, saying why.
func TestHelmRefusesBadValues(t *testing.T) {
	cases := []struct {
		name, want string
		vals       map[string]any
	}{
		{"revokeRoot without appToken", "needs vaultInit.appToken", map[string]any{"vaultInit": map[string]any{"revokeRoot": true}}},
		{"age without a recipient", "age.recipient", map[string]any{"age": map[string]any{"enabled": true}}},
		{"age with a bad recipient", "age.recipient", map[string]any{"age": map[string]any{"enabled": true, "recipient": "AGE-SECRET-KEY-1X"}}},
		{"extraEnv overriding the keystore", "VAULT_INIT_KEYSTORE", map[string]any{"vaultInit": map[string]any{
			"extraEnv": []any{map[string]any{"name": "VAULT_INIT_KEYSTORE", "value": "file"}}}}},
		{"extraEnv with a token", "VAULT_TOKEN", map[string]any{"vaultInit": map[string]any{
			"extraEnv": []any{map[string]any{"name": "VAULT_TOKEN", "value": "hvs.x"}}}}},
		{"extraEnv overriding the peers", "VAULT_INIT_PEERS", map[string]any{"vaultInit": map[string]any{
			"extraEnv": []any{map[string]any{"name": "VAULT_INIT_PEERS", "value": "http://x:8200"}}}}},
		{"no replicas", "replicas", map[string]any{"replicas": 0}},
		// The names become pods' host names and Services' names: DNS labels
		// (a dot would make the pod names invalid, <pod>.<fullname>-internal
		// resolve wrongly), and a Service's name must start with a letter.
		{"fullnameOverride with a dot", "fullnameOverride", map[string]any{"fullnameOverride": "vault.prod"}},
		{"fullnameOverride in capitals", "fullnameOverride", map[string]any{"fullnameOverride": "Vault"}},
		{"fullnameOverride starting with a digit", "fullnameOverride", map[string]any{"fullnameOverride": "1vault"}},
		{"fullnameOverride too long", "fullnameOverride", map[string]any{"fullnameOverride": strings.Repeat("v", 53)}},
		{"nameOverride with a dot", "nameOverride", map[string]any{"nameOverride": "vault.init"}},
		{"nameOverride ending in a dash", "nameOverride", map[string]any{"nameOverride": "vault-"}},
		// values.schema.json refuses unknown keys: a misspelt value would
		// otherwise be ignored without a word.
		{"misspelt value", "apptoken", map[string]any{"vaultInit": map[string]any{"apptoken": true}}},
		{"misspelt section", "vaultinit", map[string]any{"vaultinit": map[string]any{"appToken": true}}},
		{"a boolean as a string", "appToken", map[string]any{"vaultInit": map[string]any{"appToken": "false"}}},
	}
	// Helm accepts release names with dots, or starting with a digit; the
	// full name the chart derives from them must still be a DNS label
	// that can name a Service.
	for _, rel := range []string{"my.vault", "1vault"} {
		cases = append(cases, struct {
			name, want string
			vals       map[string]any
		}{"release " + rel, "release:" + rel, nil})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			release := releaseName
			if r, ok := strings.CutPrefix(tc.want, "release:"); ok {
				release, tc.want = r, "is not a DNS label"
			}
			_, err := renderChart(t, chartDir, release, releaseNS, tc.vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
