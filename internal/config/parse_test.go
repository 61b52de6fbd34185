package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// lookupWith returns a lookup over the defaults, overridden by set.
func lookupWith(set map[string]string) func(string) string {
	return func(key string) string {
		if v, ok := set[key]; ok {
			return v
		}
		for _, o := range Options {
			if o.Key == key {
				return o.Default
			}
		}
		return ""
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(lookupWith(nil))
	if err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	want := Config{
		VaultAddr: "http://vault:8200", KVMount: "aurora", KVBasePath: "users",
		DataDir: "/vault-init", SecretShares: 5, SecretThreshold: 3, RecoveryShares: 5, RecoveryThreshold: 3,
		CheckInterval: time.Second, LogLevel: "info", LogFormat: "console",
		AppPolicy: "aurora-app", AppTokenPeriod: 72 * time.Hour,
		Keystore: KeystoreFile, K8sSecret: "vault-init",
	}
	if !reflect.DeepEqual(c, want) || !slices.Equal(c.Nodes(), []string{"http://vault:8200"}) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestParseValues(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(lookupWith(map[string]string{
		KeyVaultAddr: " https://vault.example:8200 ", KeyKVMount: "/secret/",
		KeyKVBasePath: "/a/b/", KeySecretShares: "1", KeySecretThreshold: "1",
		KeyCheckInterval: "250ms", KeyLogLevel: "DEBUG", KeyLogFormat: "json",
		KeyCACert: ca, KeySkipVerify: "true", KeyTLSServerName: "vault.internal",
		KeyToken: "s.abc",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.VaultAddr != "https://vault.example:8200" || c.KVMount != "secret" || c.KVBasePath != "a/b" ||
		c.SecretShares != 1 || c.SecretThreshold != 1 || c.CheckInterval != 250*time.Millisecond ||
		c.LogLevel != "debug" || c.LogFormat != "json" || c.TLS.CACert != ca || !c.TLS.SkipVerify ||
		c.TLS.ServerName != "vault.internal" || c.Token.Reveal() != "s.abc" {
		t.Fatalf("parsed %+v", c)
	}
}

func TestParseProductionOptions(t *testing.T) {
	dir := t.TempDir()
	id := filepath.Join(dir, "identity.txt")
	if err := os.WriteFile(id, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(lookupWith(map[string]string{
		KeyAppToken: "true", KeyAppPolicy: " app ", KeyAppTokenPeriod: "24h", KeyRevokeRoot: "1",
		KeyAgeRecipient: "age1qqq", KeyAgeIdentityFile: id,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.AppToken || c.AppPolicy != "app" || c.AppTokenPeriod != 24*time.Hour || !c.RevokeRoot ||
		c.AgeRecipient != "age1qqq" || c.AgeIdentityFile != id {
		t.Fatalf("parsed %+v", c)
	}
	for _, tc := range []struct {
		set map[string]string
		key string
	}{
		{map[string]string{KeyRevokeRoot: "true"}, KeyRevokeRoot},
		{map[string]string{KeyAppToken: "true", KeyAppPolicy: "root"}, KeyAppPolicy},
		{map[string]string{KeyAppToken: "true", KeyAppPolicy: "a/b"}, KeyAppPolicy},
		{map[string]string{KeyAppToken: "true", KeyAppTokenPeriod: "10m"}, KeyAppTokenPeriod},
		{map[string]string{KeyAppTokenPeriod: "soon"}, KeyAppTokenPeriod},
		{map[string]string{KeyAppToken: "yes please"}, KeyAppToken},
		{map[string]string{KeyAgeRecipient: "ssh-ed25519 AAAA"}, KeyAgeRecipient},
		{map[string]string{KeyAgeIdentityFile: filepath.Join(dir, "missing")}, KeyAgeIdentityFile},
	} {
		_, err := Parse(lookupWith(tc.set))
		if err == nil || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("%v: want a problem with %s, got %v", tc.set, tc.key, err)
		}
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse(lookupWith(map[string]string{
		KeyVaultAddr: "", KeySecretShares: "3", KeySecretThreshold: "4",
		KeyCheckInterval: "soon", KeyLogLevel: "loud", KeyLogFormat: "xml",
		KeySkipVerify: "maybe", KeyCACert: "/does/not/exist.pem", KeyKVMount: "",
	}))
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("want Problems, got %v", err)
	}
	for _, key := range []string{KeyVaultAddr, KeySecretThreshold, KeyCheckInterval, KeyLogLevel,
		KeyLogFormat, KeySkipVerify, KeyCACert, KeyKVMount} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("message does not name %s:\n%v", key, err)
		}
	}
	if len(p) != 8 {
		t.Errorf("want 8 problems, got %d:\n%v", len(p), err)
	}
}

func TestValidateTable(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]string
		want string // substring of the error; "" means valid
	}{
		{"threshold above shares", map[string]string{KeySecretShares: "2", KeySecretThreshold: "3"}, "above secret-shares"},
		{"threshold one with many shares", map[string]string{KeySecretShares: "3", KeySecretThreshold: "1"}, "at least 2"},
		{"zero shares", map[string]string{KeySecretShares: "0", KeySecretThreshold: "0"}, "out of range"},
		{"too many shares", map[string]string{KeySecretShares: "256"}, "out of range"},
		{"not a number", map[string]string{KeySecretShares: "five"}, "not a whole number"},
		{"single share", map[string]string{KeySecretShares: "1", KeySecretThreshold: "1"}, ""},
		{"no scheme", map[string]string{KeyVaultAddr: "vault:8200"}, "not an http"},
		{"ftp", map[string]string{KeyVaultAddr: "ftp://vault"}, "not an http"},
		{"interval too short", map[string]string{KeyCheckInterval: "1ms"}, "below the minimum"},
		{"interval negative", map[string]string{KeyCheckInterval: "-1s"}, "below the minimum"},
		{"interval empty", map[string]string{KeyCheckInterval: ""}, "must not be empty"},
		{"empty data dir", map[string]string{KeyDataDir: " "}, "data-dir: must not be empty"},
		{"dotdot mount", map[string]string{KeyKVMount: "a/../b"}, "not a valid mount"},
		{"client cert without key", map[string]string{KeyClientCert: os.Args[0]}, "set together"},
		{"cluster", map[string]string{KeyAddrs: "http://a:8200, http://b:8200", KeyInitAddr: "http://b:8200"}, ""},
		{"bad node", map[string]string{KeyAddrs: "http://a:8200,b:8200"}, `addrs: "b:8200" is not`},
		{"node twice", map[string]string{KeyAddrs: "http://a:8200,http://a:8200"}, "listed twice"},
		{"init addr not a node", map[string]string{KeyAddrs: "http://a:8200", KeyInitAddr: "http://c:8200"}, "is not one of the nodes"},
		{"audit file", map[string]string{KeyAudit: "file:/vault/logs/audit.log"}, ""},
		{"audit stdout", map[string]string{KeyAudit: "stdout"}, ""},
		{"audit relative", map[string]string{KeyAudit: "file:audit.log"}, "audit: "},
		{"recovery threshold", map[string]string{KeyRecoveryShares: "2", KeyRecoveryThreshold: "3"}, "above recovery-shares"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(lookupWith(tc.set))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := Config{Token: "hvs.supersecret"}
	for _, s := range []string{fmt.Sprint(c.Token), fmt.Sprintf("%v %+v %#v %s", c, c, c, c.Token)} {
		if strings.Contains(s, "supersecret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if c.Token.Reveal() != "hvs.supersecret" {
		t.Fatal("Reveal lost the value")
	}
}
