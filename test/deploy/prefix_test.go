package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakefileReadsThePrefixAsCompose: the Makefile's `logs`, `status` and
// waits name the containers with VAULT_NAME_PREFIX from .env, which must
// read as Compose reads it (quotes and a Windows CR dropped), or they would
// name containers that do not exist.
func TestMakefileReadsThePrefixAsCompose(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is needed")
	}
	dir := t.TempDir()
	for _, f := range []string{"Makefile", "tools/vault/go.mod", "tools/etcd/go.mod", "tools/localkms/go.mod", "tools/coredns/go.mod"} {
		raw, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, value := range []string{`x-`, `"x-"`, `'x-'`, "\"x-\"\r", "x-\r"} {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("VAULT_NAME_PREFIX="+value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("make", "-s", "-n", "logs")
		cmd.Dir = dir
		cmd.Env = filterEnv(os.Environ(), "VAULT_NAME_PREFIX")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n logs: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "docker logs -f x-vault-init" {
			t.Errorf("VAULT_NAME_PREFIX=%q in .env: make logs runs %q, want %q", value, got, "docker logs -f x-vault-init")
		}
	}
}

// filterEnv drops the variable name from env.
func filterEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
