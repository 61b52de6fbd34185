package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusedSettings covers values the review found accepted that must be
// refused (issue 11, defects 4 and 9).
func TestRefusedSettings(t *testing.T) {
	id := filepath.Join(t.TempDir(), "identity.txt")
	if err := os.WriteFile(id, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		set  map[string]string
		want string
	}{
		// Vault lowercases policy names: a capital makes Renew never match,
		// and a new token would be issued on every setup.
		{"app policy with a capital", map[string]string{KeyAppToken: "true", KeyAppPolicy: "Aurora-App"}, "app-policy:"},
		// An identity alone would read an encrypted keystore but write a plaintext one.
		{"age identity without recipient", map[string]string{KeyAgeIdentityFile: id}, "age-identity-file:"},
		{"listen port too large", map[string]string{KeyListen: ":99999"}, "listen:"},
		{"listen port zero", map[string]string{KeyListen: "127.0.0.1:0"}, "listen:"},
		{"listen port a name", map[string]string{KeyListen: ":http"}, "listen:"},
		// Vault's own rule, for the recovery shares too.
		{"recovery threshold one with many shares", map[string]string{KeyRecoveryShares: "3", KeyRecoveryThreshold: "1"}, "recovery-threshold:"},
		// Credentials in an address would reach logs and metric labels.
		{"user info in vault-addr", map[string]string{KeyVaultAddr: "http://user:passw0rd@vault:8200"}, "vault-addr:"},
		{"user info in addrs", map[string]string{KeyAddrs: "http://a:8200,http://name-x:passw0rd@b:8200"}, "addrs:"},
		{"an unknown keystore", map[string]string{KeyKeystore: "consul"}, "keystore:"},
		{"a Secret name with capitals", map[string]string{KeyKeystore: "kubernetes", KeyK8sSecret: "Vault-Init"}, "k8s-secret:"},
		{"an empty Secret name", map[string]string{KeyKeystore: "kubernetes", KeyK8sSecret: " "}, "k8s-secret:"},
		{"a namespace with a dot", map[string]string{KeyKeystore: "kubernetes", KeyK8sNamespace: "vault.prod"}, "k8s-namespace:"},
		{"peers with the file keystore", map[string]string{KeyPeers: "http://vault-1:8200"}, "peers:"},
		{"a peer that is not an address", map[string]string{KeyKeystore: "kubernetes", KeyPeers: "vault-1:8200"}, "peers:"},
		{"a token as the user name", map[string]string{KeyVaultAddr: "http://hvs.SECRETTOKEN@vault:8200"}, "vault-addr:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(lookupWith(tc.set))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a problem with %q", err, tc.want)
			}
			for _, secret := range []string{"passw0rd", "name-x", "hvs.SECRETTOKEN"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error echoes user information (%s): %v", secret, err)
				}
			}
		})
	}
}

// TestEveryProblemOfAKey: two bad nodes are two problems, and a value that
// failed to parse is reported once, not again by Validate as a zero.
func TestEveryProblemOfAKey(t *testing.T) {
	_, err := Parse(lookupWith(map[string]string{
		KeyAddrs:          "ftp://a,b:8200",
		KeySecretShares:   "five",
		KeyRecoveryShares: "0", KeyRecoveryThreshold: "0",
	}))
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("want Problems, got %v", err)
	}
	count := func(prefix string) int {
		n := 0
		for _, s := range p {
			if strings.HasPrefix(s, prefix+":") {
				n++
			}
		}
		return n
	}
	for key, want := range map[string]int{KeyAddrs: 2, KeySecretShares: 1, KeyRecoveryShares: 1, KeyRecoveryThreshold: 1} {
		if got := count(key); got != want {
			t.Errorf("%s: %d problems, want %d:\n%v", key, got, want, err)
		}
	}
}

// TestKubernetesKeystore: the keystore settings reach Config, from their
// keys, with the name as Kubernetes spells it and the namespace left to
// the pod when unset.
func TestKubernetesKeystore(t *testing.T) {
	c, err := Parse(lookupWith(map[string]string{KeyKeystore: " Kubernetes ", KeyK8sSecret: "vault-keys.v1", KeyK8sNamespace: "vault",
		KeyPeers: "http://vault-0.vault-internal:8200, http://vault-1.vault-internal:8200"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keystore != KeystoreKubernetes || c.K8sSecret != "vault-keys.v1" || c.K8sNamespace != "vault" ||
		strings.Join(c.Peers, ",") != "http://vault-0.vault-internal:8200,http://vault-1.vault-internal:8200" {
		t.Fatalf("got keystore %q, secret %q, namespace %q, peers %q", c.Keystore, c.K8sSecret, c.K8sNamespace, c.Peers)
	}
	if c, err := Parse(lookupWith(map[string]string{KeyKeystore: "kubernetes"})); err != nil || c.K8sNamespace != "" || c.K8sSecret != "vault-init" {
		t.Fatalf("defaults with kubernetes: %+v, %v", c, err)
	}
}
