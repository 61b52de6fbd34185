package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// asUser makes the layout rules see uid as vault-init's effective user for
// the rest of the test. The file system still sees the test's own user: as
// root, the chmods that would fail for uid still succeed here (the binary
// test TestDataDirNotOwned runs vault-init as that user for real).
func asUser(t *testing.T, uid int) {
	t.Helper()
	old := geteuid
	geteuid = func() int { return uid }
	t.Cleanup(func() { geteuid = old })
}

// needRoot: the layout tests chown directories to other users. Under CI
// (CI set) a run without root fails, so that a skip never counts as a pass.
func needRoot(t *testing.T) {
	t.Helper()
	switch {
	case os.Geteuid() == 0:
	case os.Getenv("CI") != "":
		t.Fatal("this test needs root (it gives directories to other users); CI is set, so it fails instead of skipping")
	default:
		t.Skip("needs root: it gives directories to other users (under CI=true this is a failure)")
	}
}

// notOurs is a data dir that belongs to someone else, as a Kubernetes
// emptyDir does: root's, 0777, seen by vault-init as uid 65532.
func notOurs(t *testing.T) string {
	t.Helper()
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	asUser(t, 65532)
	return dir
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLayoutRule1TopLevelFiles: any state file at the top level keeps the
// layout of every earlier vault-init, even in a data dir that is not ours.
func TestLayoutRule1TopLevelFiles(t *testing.T) {
	for _, name := range stateFiles {
		t.Run(name, func(t *testing.T) {
			dir := notOurs(t)
			touch(t, filepath.Join(dir, name))
			if got := New(dir).Dir(); got != dir {
				t.Fatalf("Dir() = %s, want the data dir %s", got, dir)
			}
		})
	}
	t.Run("the lock file alone is not one", func(t *testing.T) {
		dir := notOurs(t)
		touch(t, filepath.Join(dir, LockFileName))
		if got := New(dir).Dir(); got != filepath.Join(dir, SubdirName) {
			t.Fatalf("Dir() = %s", got)
		}
	})
}

// TestLayoutRule2Subdir: once the subdirectory exists it is used, whoever
// looks (the sidecar, or root through docker exec).
func TestLayoutRule2Subdir(t *testing.T) {
	dir := t.TempDir() // ours: rule 3 alone would say the top level
	sub := filepath.Join(dir, SubdirName)
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	ks := New(dir)
	if err := ks.Save(sample()); err != nil {
		t.Fatal(err)
	}
	if ks.Path() != filepath.Join(sub, FileName) || ks.Dir() != sub {
		t.Fatalf("Path() = %s", ks.Path())
	}
	assertOnlyEntry(t, dir, SubdirName)
}

// TestLayoutRule3OwnedDataDir: a data dir that is ours (or absent, or we
// are root) keeps today's layout, made 0700: the Docker named volume's
// /vault-init/init.json.
func TestLayoutRule3OwnedDataDir(t *testing.T) {
	cases := []struct {
		name string
		uid  int
		dir  func(t *testing.T) string
	}{
		{"owned by our uid, not writable by others", os.Geteuid(), func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "keys")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"absent", 65532, func(t *testing.T) string { return filepath.Join(t.TempDir(), "new") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			asUser(t, tc.uid)
			ks := New(dir)
			if err := ks.Save(sample()); err != nil {
				t.Fatal(err)
			}
			if ks.Path() != filepath.Join(dir, FileName) {
				t.Fatalf("Path() = %s, want the top level", ks.Path())
			}
			assertMode(t, dir, 0o700)
		})
	}
}

// TestLayoutRule4NotOurs: in a data dir that is not ours, every file goes
// into a 0700 subdirectory, and the mount point is left as it was.
func TestLayoutRule4NotOurs(t *testing.T) {
	dir := notOurs(t)
	sub := filepath.Join(dir, SubdirName)
	ks := New(dir)
	if ks.Dir() != sub {
		t.Fatalf("Dir() = %s before anything was written, want %s", ks.Dir(), sub)
	}
	if _, err := ks.Load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load = %v, want ErrNotFound", err)
	}
	if exists(sub) {
		t.Fatal("a read created the subdirectory")
	}
	if err := ks.CheckWritable(); err != nil {
		t.Fatal(err)
	}
	if err := ks.Save(sample()); err != nil {
		t.Fatal(err)
	}
	unlock, err := ks.TryLock()
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := ks.SetPause("test"); err != nil {
		t.Fatal(err)
	}
	if err := ks.SaveAppToken("hvs.app"); err != nil {
		t.Fatal(err)
	}
	if err := ks.SaveNonce("nonce"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ks.Path(), ks.AppTokenPath()} {
		if filepath.Dir(p) != sub {
			t.Fatalf("%s is not in %s", p, sub)
		}
	}
	assertMode(t, sub, 0o700)
	assertMode(t, ks.Path(), 0o600)
	assertMode(t, dir, 0o777)
	assertOnlyEntry(t, dir, SubdirName)
	// Root (a docker exec) sees the same layout.
	asUser(t, 0)
	if got, err := New(dir).Load(); err != nil || !got.Equal(sample()) {
		t.Fatalf("Load as root: %v %v", got, err)
	}
	if p, _ := New(dir).Paused(); p == nil || p.Reason != "test" {
		t.Fatalf("Paused as root: %+v", p)
	}
}

func TestLayoutSubdirMustBeADirectory(t *testing.T) {
	for name, create := range map[string]func(sub string) error{
		"a file":                 func(sub string) error { return os.WriteFile(sub, nil, 0o600) },
		"a symlink to elsewhere": func(sub string) error { return os.Symlink(t.TempDir(), sub) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := notOurs(t)
			if err := create(filepath.Join(dir, SubdirName)); err != nil {
				t.Fatal(err)
			}
			err := New(dir).Save(sample())
			if err == nil || !strings.Contains(err.Error(), "is not a directory") {
				t.Fatalf("Save = %v, want a refusal", err)
			}
		})
	}
}

// TestLayoutTwoKeystores: files at the top level and a keystore in the
// subdirectory: every operation refuses and names both places.
func TestLayoutTwoKeystores(t *testing.T) {
	dir := t.TempDir()
	touch(t, filepath.Join(dir, PauseFileName))
	touch(t, filepath.Join(dir, SubdirName, AgeFileName))
	ks := New(dir)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrTwoKeystores) || !strings.Contains(err.Error(), filepath.Join(dir, SubdirName)) ||
			!strings.Contains(err.Error(), PauseFileName) {
			t.Fatalf("%s = %v, want ErrTwoKeystores naming both", what, err)
		}
	}
	_, err := ks.Load()
	check("Load", err)
	check("Save", ks.Save(sample()))
	check("CheckWritable", ks.CheckWritable())
	_, err = ks.TryLock()
	check("TryLock", err)
	p, err := ks.Paused()
	check("Paused", err)
	if p == nil {
		t.Fatal("a data dir in conflict must count as paused")
	}
	check("ClearPause", ks.ClearPause())
	_, err = ks.LoadAppToken()
	check("LoadAppToken", err)
	_, err = ks.Migrate()
	check("Migrate", err)
}

func assertOnlyEntry(t *testing.T, dir, name string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != name {
		t.Fatalf("%s holds %v, want only %s", dir, entries, name)
	}
}

// TestLayoutRootGetsNoException: root in a shared data dir (0777, another
// user's) uses the subdirectory like anyone: the sidecar and a root
// `docker exec` agree, and root, who may chmod anything, does not make a
// shared mount its own.
func TestLayoutRootGetsNoException(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	asUser(t, 0)
	if got, want := New(dir).Dir(), filepath.Join(dir, SubdirName); got != want {
		t.Fatalf("root: Dir() = %s, want %s", got, want)
	}
	asUser(t, 65532)
	if got, want := New(dir).Dir(), filepath.Join(dir, SubdirName); got != want {
		t.Fatalf("uid 65532: Dir() = %s, want %s", got, want)
	}
	// Our own directory, writable by a group: shared too.
	own := filepath.Join(t.TempDir(), "group")
	if err := os.Mkdir(own, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(own, 0o775); err != nil {
		t.Fatal(err)
	}
	asUser(t, 0)
	if got, want := New(own).Dir(), filepath.Join(own, SubdirName); got != want {
		t.Fatalf("group-writable: Dir() = %s, want %s", got, want)
	}
}

// TestLayoutWritesOnlyAsTheOwner: vault-init's directory belongs to the
// sidecar's user; another user (root, in a docker exec) writing there would
// leave files the sidecar cannot read, so it is refused with what to do.
func TestLayoutWritesOnlyAsTheOwner(t *testing.T) {
	dir := notOurs(t) // seen as uid 65532
	ks := New(dir)
	if err := ks.Save(sample()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(ks.Dir(), 65532, 65532); err != nil {
		t.Fatal(err)
	}
	asUser(t, 0)
	err := New(dir).SetPause("as root")
	if err == nil || !strings.Contains(err.Error(), "run it as uid 65532") {
		t.Fatalf("SetPause as root = %v, want a refusal naming uid 65532", err)
	}
	if p, _ := New(dir).Paused(); p != nil {
		t.Fatal("the refused pause left a mark")
	}
}

// TestLayoutSubdirFileRefusesReads: a file or symlink in the subdirectory's
// place is not taken as the subdirectory, for reads either.
func TestLayoutSubdirFileRefusesReads(t *testing.T) {
	dir := notOurs(t)
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, SubdirName)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(dir).Load(); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Load through a symlinked subdirectory = %v, want a refusal (never \"not found\")", err)
	}
}
