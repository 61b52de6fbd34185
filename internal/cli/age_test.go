package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestAgeIdentityOwner: `make age-identity` runs `age-identity --owner
// UID:GID` as root in a container. The host user (UID) must own the only
// copy of the identity, to back it up; vault-init's image (GID 65532) reads
// it through the group; nobody else reads it.
func TestAgeIdentityOwner(t *testing.T) {
	// Any process may give a file its own uid and one of its own groups;
	// root tests the real case, the image's group.
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		gid = 65532
	}
	cases := []struct {
		owner     string
		uid, gid  int
		perm      os.FileMode
		wantError bool
	}{
		{owner: fmt.Sprintf("%d:%d", uid, gid), uid: uid, gid: gid, perm: 0o440},
		{owner: fmt.Sprint(uid), uid: uid, gid: os.Getgid(), perm: 0o400},
		{owner: "x:1", wantError: true},
		{owner: "1:", wantError: true},
		{owner: "-2:1", wantError: true},
	}
	for _, tc := range cases {
		t.Run(tc.owner, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "id.txt")
			var out, errOut bytes.Buffer
			code := Run(context.Background(), []string{"age-identity", path, "--owner", tc.owner}, &out, &errOut)
			if tc.wantError {
				if code == 0 {
					t.Fatalf("--owner %q was accepted", tc.owner)
				}
				if _, err := os.Stat(path); err == nil {
					t.Fatal("a refused --owner left an identity file behind")
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			sys := st.Sys().(*syscall.Stat_t)
			if int(sys.Uid) != tc.uid || int(sys.Gid) != tc.gid || st.Mode().Perm() != tc.perm {
				t.Fatalf("owner %d:%d mode %v, want %d:%d %v", sys.Uid, sys.Gid, st.Mode().Perm(), tc.uid, tc.gid, tc.perm)
			}
		})
	}
}
