//go:build faultinject

package faults

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestSecretsStayPrivate: after a first start (init, save, unseal, mount) at
// debug level and with the loosest umask, the secrets are in the keystore and
// in the banner's root token line, and nowhere else vault-init could leave
// them: no other file in the data dir (a leftover temp file, a copy), no
// other line of its output, no file it holds open (deleted ones too); and
// nothing in the data dir is open to group or others.
func TestSecretsStayPrivate(t *testing.T) {
	old := syscall.Umask(0) // inherited by vault-init
	defer syscall.Umask(old)
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := filepath.Join(t.TempDir(), "fresh")
	p := run(t, srv.Addr(), dir)
	p.WaitEvent(events.Ready, 60*time.Second)
	p.Stdout.WaitFor(t, "Root Token: ", 5*time.Second) // the output exception is there to check
	d := loadKeys(t, dir)
	keys := keystore.New(dir).Path()

	files := filesUnder(t, dir)
	if len(files) < 2 {
		t.Fatalf("the data dir holds %v: the walk saw nothing to check", files)
	}
	for path, info := range files {
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %04o with umask 0; nothing in the data dir may be open to group or others", path, info.Mode().Perm())
		}
		if info.Mode().IsRegular() && path != keys {
			vaulttest.AssertNoSecrets(t, path+" (not the keystore)", readAll(t, path), d)
		}
	}
	open := openFiles(t, p.Pid())
	for name, content := range open {
		vaulttest.AssertNoSecrets(t, "a file vault-init holds open, "+name, content, d)
	}
	p.AssertNoSecrets() // stdout and stderr; again at the end, with all the output
	t.Logf("checked %d files in the data dir, and the files vault-init holds open: %v", len(files), slices.Sorted(maps.Keys(open)))
}

// filesUnder returns every file and directory under dir, dir included.
func filesUnder(t *testing.T, dir string) map[string]fs.FileInfo {
	t.Helper()
	found := map[string]fs.FileInfo{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		found[path] = info
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// openFiles returns the content of every regular file the process holds
// open, by the name /proc gives it ("(deleted)" for one unlinked since). It
// reads through /proc/pid/fd, which reaches deleted files too.
func openFiles(t *testing.T, pid int) map[string]string {
	t.Helper()
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		fd := filepath.Join(fdDir, e.Name())
		info, err := os.Stat(fd)
		if err != nil || !info.Mode().IsRegular() {
			continue // closed since, a pipe, a socket, /dev/null
		}
		raw, err := os.ReadFile(fd)
		if err != nil {
			continue // closed since
		}
		name, _ := os.Readlink(fd)
		out[name] = string(raw)
	}
	return out
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
