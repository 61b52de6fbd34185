//go:build faultinject

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestSecretsStayPrivate: after a first start at debug level, with the
// loosest umask, no key share or token is in the process's argument list
// or environment, and the data dir and keystore are private.
func TestSecretsStayPrivate(t *testing.T) {
	old := syscall.Umask(0) // inherited by vault-init
	defer syscall.Umask(old)
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := filepath.Join(t.TempDir(), "fresh")
	p := run(t, srv.Addr(), dir)
	p.stderr.WaitFor(t, "vault is ready", 60*time.Second)
	d := loadKeys(t, dir)
	for _, f := range []string{"cmdline", "environ"} {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", p.cmd.Process.Pid, f))
		if err != nil {
			t.Fatal(err)
		}
		vaulttest.AssertNoSecrets(t, "/proc/pid/"+f, string(raw), d)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, keystore.FileName): 0o600,
		filepath.Join(dir, keystore.LockFileName): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o with umask 0, want %04o", path, st.Mode().Perm(), want)
		}
	}
	// Every log line at debug level is scanned by run's cleanup as well.
	vaulttest.AssertNoSecrets(t, "debug logs", p.stderr.String(), d)
}
