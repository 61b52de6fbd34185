package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// The image's user: vault-init runs as 65532 (distroless "nonroot").
const nonroot = 65532

// openBase is a directory that every user may enter (t.TempDir's are
// 0700), for data dirs that vault-init reaches as another user.
func openBase(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "vault-init-datadir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}

// TestDataDirNotOwned: the mount points vault-init meets in Kubernetes are
// not its own, and only the owner may chmod a directory. vault-init, as
// uid 65532, must initialize and unseal Vault anyway, with the keystore
// 0600 in a 0700 directory of its own, and every command must find it.
func TestDataDirNotOwned(t *testing.T) {
	vaulttest.RequireRoot(t, "running vault-init as uid 65532")
	const fsGroup = 2000
	cases := []struct {
		name   string
		gid    int
		mode   os.FileMode
		groups []uint32
	}{
		{"emptyDir: root's, 0777", 0, 0o777, nil},
		{"PVC under fsGroup: root:2000, 2775", fsGroup, 0o775 | os.ModeSetgid, []uint32{fsGroup}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(openBase(t), "keys")
			if err := os.Mkdir(dataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dataDir, 0, tc.gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dataDir, tc.mode); err != nil { // after the chown, which clears setgid
				t.Fatal(err)
			}
			srv := vaulttest.Start(t, vaulttest.Options{})
			cred := &syscall.Credential{Uid: nonroot, Gid: nonroot, Groups: tc.groups}
			env := []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
			p := startAs(t, cred, env)
			p.WaitEvent(events.Ready, 60*time.Second)
			if h := srv.Health(); !h.Initialized || h.Sealed {
				t.Fatalf("vault: %+v", h)
			}
			ks := keystore.New(dataDir)
			if _, err := ks.Load(); err != nil {
				t.Fatalf("load the keystore as root: %v", err)
			}
			assertPrivate(t, ks.Path(), 0o600)
			assertPrivate(t, filepath.Dir(ks.Path()), 0o700|os.ModeDir)
			if st, _ := os.Stat(dataDir); st.Mode() != tc.mode|os.ModeDir {
				t.Fatalf("the data dir's mode changed to %v", st.Mode())
			}

			// The sidecar and a `docker exec ... vault-init status`, as
			// the same user or as root, find the same keystore.
			for _, as := range []*syscall.Credential{cred, nil} {
				sp := startAs(t, as, env, "status")
				if code, _ := sp.Wait(30 * time.Second); code != 0 || !strings.Contains(sp.Stdout.String(), "Keystore     "+ks.Path()+"\n") {
					t.Fatalf("status as %v: exit %d\n%s%s", as, code, sp.Stdout.String(), sp.Stderr.String())
				}
			}

			// Vault restarts sealed: vault-init unseals it from there.
			srv.Stop()
			srv.Restart()
			srv.WaitFor("unseal after a restart", 30*time.Second, vaulttest.Unsealed)
		})
	}
}

// assertPrivate checks that path has exactly mode and belongs to nonroot.
func assertPrivate(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	uid := st.Sys().(*syscall.Stat_t).Uid
	if st.Mode() != mode || uid != nonroot {
		t.Fatalf("%s: mode %v, owner %d; want %v, owner %d", path, st.Mode(), uid, mode, nonroot)
	}
}

// TestDataDirLegacyNotOwned: a keystore at the top level of a data dir
// that is not vault-init's stays where it is (the layout of every earlier
// version), and a write that needs the directory made private says why it
// cannot, and what to do.
func TestDataDirLegacyNotOwned(t *testing.T) {
	vaulttest.RequireRoot(t, "running vault-init as uid 65532")
	dataDir := filepath.Join(openBase(t), "keys")
	if err := os.Mkdir(dataDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o777); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dataDir, keystore.FileName)
	if err := os.WriteFile(legacy, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(legacy, nonroot, nonroot); err != nil {
		t.Fatal(err)
	}
	p := startAs(t, &syscall.Credential{Uid: nonroot, Gid: nonroot}, []string{"VAULT_INIT_DATA_DIR=" + dataDir}, "pause")
	code, _ := p.Wait(30 * time.Second)
	errOut := p.Stderr.String()
	for _, want := range []string{"operation not permitted", "init.json", "give the directory to uid 65532", filepath.Join(dataDir, "vault-init")} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("pause: exit %d, want 1 and %q in:\n%s", code, want, errOut)
		}
	}
}
