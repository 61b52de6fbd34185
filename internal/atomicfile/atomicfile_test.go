package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

func assertContent(t *testing.T, path, want string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != want {
		t.Fatalf("%s holds %q, want %q", path, raw, want)
	}
}

func TestWriteReplacesWithMode0600(t *testing.T) {
	for _, umask := range []int{0, 0o077} {
		old := syscall.Umask(umask) // the mode must not depend on the umask
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := Write(path, []byte("new"))
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		assertContent(t, path, "new")
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Fatalf("umask %04o: mode %v, want 0600", umask, st.Mode().Perm())
		}
		assertOnly(t, dir, "f")
	}
}

// TestFailuresKeepTheOldFile: whatever step fails before the rename, the
// old file is as it was and no temp file is left.
func TestFailuresKeepTheOldFile(t *testing.T) {
	fillErr := errors.New("the snapshot broke off")
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		fill  func(w io.Writer) error
		want  error
	}{
		{"fill fails midway", nil, func(w io.Writer) error {
			w.Write([]byte("half of it"))
			return fillErr
		}, fillErr},
		{"rename fails", func(t *testing.T, path string) {
			// A non-empty directory cannot be replaced by a file.
			if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }, syscall.EEXIST}, // os.Rename refuses a directory as the target
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.setup != nil {
				tc.setup(t, path)
			} else if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := WriteStream(path, tc.fill)
			if !errors.Is(err, tc.want) {
				t.Fatalf("WriteStream = %v, want %v", err, tc.want)
			}
			assertOnly(t, dir, "f")
			if tc.setup == nil {
				assertContent(t, path, "old")
			}
		})
	}
}

func TestDirSyncFailureIsReported(t *testing.T) {
	restore := FailDirSyncForTest(syscall.EINVAL)
	dir := t.TempDir()
	err := Write(filepath.Join(dir, "f"), []byte("new"))
	perr := Probe(t.TempDir())
	restore()
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "sync directory") {
		t.Fatalf("Write = %v, want the directory sync's error", err)
	}
	if !errors.Is(perr, syscall.EINVAL) {
		t.Fatalf("Probe = %v, want the directory sync's error", perr)
	}
	if err := Write(filepath.Join(dir, "f"), []byte("new")); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}

func TestProbeLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := Probe(dir); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dir)
	if err := Probe(filepath.Join(dir, "absent")); err == nil {
		t.Fatal("Probe of a missing directory succeeded")
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second time it is absent: no error
		if err := Remove(path); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	assertOnly(t, dir)
}
