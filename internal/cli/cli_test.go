package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/keystore"
)

// clearEnv unsets every variable vault-init reads, for the test's duration.
func clearEnv(t *testing.T) {
	for _, o := range config.Options {
		t.Setenv(o.Env, "")
		os.Unsetenv(o.Env)
	}
}

func load(t *testing.T, args ...string) (config.Config, error) {
	t.Helper()
	s := newSettings()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	s.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return s.load()
}

func writeConfig(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrecedence(t *testing.T) {
	clearEnv(t)
	file := writeConfig(t, "c.yaml", "kv-mount: from-file\n")
	cases := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"default", "", nil, "aurora"},
		{"file", "", []string{"--config", file}, "from-file"},
		{"env over file", "from-env", []string{"--config", file}, "from-env"},
		{"flag over env", "from-env", []string{"--config", file, "--kv-mount", "from-flag"}, "from-flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("VAULT_KV_MOUNT", tc.env)
			} else {
				os.Unsetenv("VAULT_KV_MOUNT")
			}
			c, err := load(t, tc.args...)
			if err != nil || c.KVMount != tc.want {
				t.Fatalf("kv mount %q (err %v), want %q", c.KVMount, err, tc.want)
			}
		})
	}
}

// TestEveryOptionIsRead sets each option through its environment variable,
// then through its flag, then in the config file, and checks that the
// parsed config shows it: a misspelled binding would make an option
// silently do nothing.
func TestEveryOptionIsRead(t *testing.T) {
	clearEnv(t)
	pem := writeConfig(t, "x.pem", "x")
	get := map[string]struct {
		value string
		read  func(config.Config) string
	}{
		config.KeyVaultAddr:         {"https://v.example:8200", func(c config.Config) string { return c.VaultAddr }},
		config.KeyCACert:            {pem, func(c config.Config) string { return c.TLS.CACert }},
		config.KeyCAPath:            {filepath.Dir(pem), func(c config.Config) string { return c.TLS.CAPath }},
		config.KeyClientCert:        {pem, func(c config.Config) string { return c.TLS.ClientCert }},
		config.KeyClientKey:         {pem, func(c config.Config) string { return c.TLS.ClientKey }},
		config.KeyTLSServerName:     {"vault.internal", func(c config.Config) string { return c.TLS.ServerName }},
		config.KeySkipVerify:        {"true", func(c config.Config) string { return map[bool]string{true: "true"}[c.TLS.SkipVerify] }},
		config.KeyToken:             {"hvs.env", func(c config.Config) string { return c.Token.Reveal() }},
		config.KeyKVMount:           {"kvx", func(c config.Config) string { return c.KVMount }},
		config.KeyKVBasePath:        {"people", func(c config.Config) string { return c.KVBasePath }},
		config.KeyDataDir:           {"/tmp/vi", func(c config.Config) string { return c.DataDir }},
		config.KeySecretShares:      {"7", func(c config.Config) string { return itoa(c.SecretShares) }},
		config.KeySecretThreshold:   {"2", func(c config.Config) string { return itoa(c.SecretThreshold) }},
		config.KeyCheckInterval:     {"3s", func(c config.Config) string { return c.CheckInterval.String() }},
		config.KeyLogLevel:          {"debug", func(c config.Config) string { return c.LogLevel }},
		config.KeyLogFormat:         {"json", func(c config.Config) string { return c.LogFormat }},
		config.KeyListen:            {"127.0.0.1:9100", func(c config.Config) string { return c.Listen }},
		config.KeyAudit:             {"file:/vault/logs/audit.log", func(c config.Config) string { return c.Audit }},
		config.KeyOnce:              {"true", func(c config.Config) string { return map[bool]string{true: "true"}[c.Once] }},
		config.KeyAddrs:             {"http://a:8200,http://b:8200", func(c config.Config) string { return strings.Join(c.Addrs, ",") }},
		config.KeyInitAddr:          {"http://vault:8200", func(c config.Config) string { return c.InitAddr }},
		config.KeyRecoveryShares:    {"4", func(c config.Config) string { return itoa(c.RecoveryShares) }},
		config.KeyRecoveryThreshold: {"2", func(c config.Config) string { return itoa(c.RecoveryThreshold) }},
		config.KeyAppToken:          {"true", func(c config.Config) string { return map[bool]string{true: "true"}[c.AppToken] }},
		config.KeyAppPolicy:         {"app-x", func(c config.Config) string { return c.AppPolicy }},
		config.KeyAppTokenPeriod:    {"5h0m0s", func(c config.Config) string { return c.AppTokenPeriod.String() }},
		config.KeyRevokeRoot:        {"true", func(c config.Config) string { return map[bool]string{true: "true"}[c.RevokeRoot] }},
		config.KeyAgeRecipient:      {"age1xyz", func(c config.Config) string { return c.AgeRecipient }},
		config.KeyAgeIdentityFile:   {pem, func(c config.Config) string { return c.AgeIdentityFile }},
		config.KeyKeystore:          {"kubernetes", func(c config.Config) string { return c.Keystore }},
		config.KeyK8sSecret:         {"vault-keys", func(c config.Config) string { return c.K8sSecret }},
		config.KeyK8sNamespace:      {"vault-prod", func(c config.Config) string { return c.K8sNamespace }},
		config.KeyPeers:             {"http://vault-1:8200", func(c config.Config) string { return strings.Join(c.Peers, ",") }},
		config.KeyNotify:            {"https://hooks.example/x,http://hooks.example/y", func(c config.Config) string { return strings.Join(c.Notify, ",") }},
	}
	if len(get) != len(config.Options) {
		t.Fatalf("the test covers %d options, config has %d", len(get), len(config.Options))
	}
	for _, o := range config.Options {
		g := get[o.Key]
		t.Run(o.Env, func(t *testing.T) {
			t.Setenv(o.Env, g.value)
			c, err := load(t, pairedArgs(o.Key, pem)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.read(c); got != g.value {
				t.Fatalf("%s=%s read as %q", o.Env, g.value, got)
			}
		})
		if o.EnvOnly {
			continue
		}
		t.Run("--"+o.Key, func(t *testing.T) {
			c, err := load(t, append(pairedArgs(o.Key, pem), "--"+o.Key+"="+g.value)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.read(c); got != g.value {
				t.Fatalf("--%s=%s read as %q", o.Key, g.value, got)
			}
		})
		t.Run("file "+o.Key, func(t *testing.T) {
			file := writeConfig(t, "c.yaml", o.Key+": "+strconv.Quote(g.value)+"\n")
			c, err := load(t, append(pairedArgs(o.Key, pem), "--config", file)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.read(c); got != g.value {
				t.Fatalf("%s: %s in the config file read as %q", o.Key, g.value, got)
			}
		})
	}
}

// pairedArgs supplies the partner of an option that cannot stand alone.
func pairedArgs(key, pem string) []string {
	switch key {
	case config.KeyClientCert:
		return []string{"--client-key", pem}
	case config.KeyClientKey:
		return []string{"--client-cert", pem}
	case config.KeyRevokeRoot:
		return []string{"--app-token=true"}
	case config.KeyAgeIdentityFile:
		return []string{"--age-recipient", "age1xyz"}
	case config.KeyPeers:
		return []string{"--keystore", "kubernetes"}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestSkipVerifyFlagAlone(t *testing.T) {
	clearEnv(t)
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	c, err := load(t, "--tls-skip-verify=false")
	if err != nil || c.TLS.SkipVerify {
		t.Fatalf("--tls-skip-verify=false did not override the environment: %+v %v", c.TLS, err)
	}
	c, err = load(t, "--tls-skip-verify")
	if err != nil || !c.TLS.SkipVerify {
		t.Fatalf("--tls-skip-verify alone: %+v %v", c.TLS, err)
	}
}

func TestConfigFileProblems(t *testing.T) {
	clearEnv(t)
	cases := []struct{ name, file, content, want string }{
		{"unknown key", "c.yaml", "vault-adr: http://x:1\n", "vault-adr: unknown key"},
		{"token in file", "c.yaml", "token: hvs.secret\n", "a token may not be kept in the config file"},
		{"bad yaml", "c.yaml", "kv-mount: [\n", "cannot read"},
		{"missing file", "", "", "cannot read"},
		{"json", "c.json", `{"secret-shares": "x"}`, `secret-shares: "x" is not a whole number`},
		{"list value", "c.yaml", "kv-mount: [a, b]\n", "kv-mount: must be a single value"},
		{"map value", "c.yaml", "vault-addr:\n  x: 1\n", "vault-addr: must be a single value"},
		{"huge file", "c.yaml", "# " + strings.Repeat("x", MaxConfigFileBytes) + "\n", "a config file is at most"},
		{"number where text", "c.toml", "secret-shares = 3\nsecret-threshold = 2\nkv-mount = 7\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent.yaml")
			if tc.file != "" {
				path = writeConfig(t, tc.file, tc.content)
			}
			_, err := load(t, "--config", path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hvs.secret") {
				t.Fatal("the error repeats the token from the file")
			}
		})
	}
}

// TestBadConfigExits2WithoutContactingVault drives Run as main does.
func TestBadConfigExits2WithoutContactingVault(t *testing.T) {
	clearEnv(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for _, cmd := range []string{"run", "status", "healthcheck", "root-token"} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), []string{cmd, "--vault-addr", srv.URL, "--secret-shares", "2",
			"--secret-threshold", "3", "--check-interval", "often", "--log-format", "xml"}, &out, &errOut)
		if code != ExitUsage {
			t.Fatalf("%s: exit %d, want %d; stderr:\n%s", cmd, code, ExitUsage, errOut.String())
		}
		for _, want := range []string{"secret-threshold", "check-interval", "log-format"} {
			if !strings.Contains(errOut.String(), want) {
				t.Fatalf("%s: the message does not list %s:\n%s", cmd, want, errOut.String())
			}
		}
	}
	if code := Run(context.Background(), []string{"--no-such-flag"}, &bytes.Buffer{}, &bytes.Buffer{}); code != ExitUsage {
		t.Fatalf("unknown flag: exit %d", code)
	}
	if code := Run(context.Background(), []string{"extra-arg"}, &bytes.Buffer{}, &bytes.Buffer{}); code != ExitUsage {
		t.Fatalf("stray argument: exit %d", code)
	}
	if hits.Load() != 0 {
		t.Fatalf("vault was contacted %d times", hits.Load())
	}
}

func TestVersionAndRootToken(t *testing.T) {
	clearEnv(t)
	var out bytes.Buffer
	if code := Run(context.Background(), []string{"version"}, &out, &bytes.Buffer{}); code != 0 || out.String() != "vault-init dev\n" {
		t.Fatalf("version: %d %q", code, out.String())
	}
	dir := t.TempDir()
	var errOut bytes.Buffer
	if code := Run(context.Background(), []string{"root-token", "--data-dir", dir}, &out, &errOut); code != ExitFailure ||
		!strings.Contains(errOut.String(), "not found") {
		t.Fatalf("root-token without keystore: exit %d, %s", code, errOut.String())
	}
	d := &keystore.InitData{Version: keystore.FormatVersion, SecretShares: 1, SecretThreshold: 1, Keys: []string{"k"}, RootToken: "hvs.tok"}
	if err := keystore.New(dir).Save(d); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := Run(context.Background(), []string{"root-token", "--data-dir", dir}, &out, &bytes.Buffer{}); code != 0 || out.String() != "hvs.tok\n" {
		t.Fatalf("root-token: %d %q", code, out.String())
	}
}

// TestAppTokenNotYet: with no app token saved, `app-token` exits 1 when the
// app token is off, and 4 (not yet) when it is on, whichever way it is on
// (env, flag, config file): make env-token then waits instead of writing
// the root token in its place.
func TestAppTokenNotYet(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "vault-init.yaml")
	if err := os.WriteFile(cfgFile, []byte("app-token: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want int
	}{
		{"off", "", nil, ExitFailure},
		{"env", " true", nil, ExitNotYet},
		{"flag", "", []string{"--app-token"}, ExitNotYet},
		{"config file", "", []string{"--config", cfgFile}, ExitNotYet},
	} {
		t.Setenv("VAULT_INIT_APP_TOKEN", tc.env)
		var errOut bytes.Buffer
		args := append([]string{"app-token", "--data-dir", dir}, tc.args...)
		if code := Run(context.Background(), args, &bytes.Buffer{}, &errOut); code != tc.want {
			t.Errorf("%s: exit %d, want %d: %s", tc.name, code, tc.want, errOut.String())
		}
	}
	if err := keystore.New(dir).SaveAppToken("hvs.app"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := Run(context.Background(), []string{"app-token", "--data-dir", dir}, &out, &bytes.Buffer{}); code != 0 || out.String() != "hvs.app\n" {
		t.Fatalf("app-token: %d %q", code, out.String())
	}
}

func TestHealthcheckUnreachable(t *testing.T) {
	clearEnv(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"healthcheck", "--vault-addr", addr, "--data-dir", t.TempDir()}, &out, &errOut)
	if code != ExitFailure || out.Len() != 0 || errOut.Len() != 0 {
		t.Fatalf("healthcheck: exit %d, stdout %q, stderr %q; want 1 and silence", code, out.String(), errOut.String())
	}
	code = Run(context.Background(), []string{"status", "--vault-addr", addr, "--data-dir", t.TempDir()}, &out, &errOut)
	if code != ExitFailure || !strings.Contains(out.String(), "state        unreachable") || !strings.Contains(out.String(), "Ready        no") {
		t.Fatalf("status: exit %d:\n%s", code, out.String())
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	clearEnv(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"--vault-addr", addr, "--data-dir", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("exit %d after cancel, want 0", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop after its context was cancelled")
	}
}

func TestAgeIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "id.txt")
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"age-identity", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	recipient := strings.TrimSpace(out.String())
	rs, ids, err := keystore.ParseAge(recipient, path)
	if err != nil || len(rs) != 1 || len(ids) != 1 {
		t.Fatalf("the identity does not parse: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o400 {
		t.Fatalf("mode %v", st.Mode())
	}
	before, _ := os.ReadFile(path)
	if code := Run(context.Background(), []string{"age-identity", path}, &out, &errOut); code == 0 {
		t.Fatal("an existing identity was overwritten")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the identity file changed")
	}
}
