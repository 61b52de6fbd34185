package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestEnvTokenWrites: `make env-token` (scripts/env-token.sh) sets
// VAULT_TOKEN in .env to the app token, else the root token; it keeps every
// other line in order, replaces a VAULT_TOKEN line where it stands, keeps the
// file's mode (0600 for a new file), leaves no temp file, and a second run
// leaves the file alone. The harness fails any case whose output or argv
// holds the token.
func TestEnvTokenWrites(t *testing.T) {
	noApp := func(f *fake) {
		f.unset("app")
		f.set("app.err", "no app token yet: run vault-init with VAULT_INIT_APP_TOKEN=true")
	}
	cases := []struct {
		name   string
		before *string // nil: no .env
		mode   os.FileMode
		setup  func(*fake)
		want   string
		kind   string
	}{
		{name: "new file is 0600", want: "VAULT_TOKEN=" + appToken + "\n", kind: "app"},
		{
			name:   "replaced in place, other lines and mode kept",
			before: ptr("# Aurora\nVAULT_ADDR=http://vault:8200\n# VAULT_TOKEN=commented\nVAULT_TOKEN=hvs.old\nVAULT_TOKEN_FILE=/x\n\nVAULT_KV_MOUNT=aurora"),
			mode:   0o640,
			want:   "# Aurora\nVAULT_ADDR=http://vault:8200\n# VAULT_TOKEN=commented\nVAULT_TOKEN=" + appToken + "\nVAULT_TOKEN_FILE=/x\n\nVAULT_KV_MOUNT=aurora\n",
			kind:   "app",
		},
		{
			name:   "export form and quotes",
			before: ptr("A=1\nexport VAULT_TOKEN=\"hvs.old\"\nB=2\n"),
			mode:   0o600,
			want:   "A=1\nexport VAULT_TOKEN=" + appToken + "\nB=2\n",
			kind:   "app",
		},
		{
			name:   "appended when absent",
			before: ptr("VAULT_INIT_APP_TOKEN=true\nVAULT_INIT_REVOKE_ROOT=true\n"),
			mode:   0o644,
			want:   "VAULT_INIT_APP_TOKEN=true\nVAULT_INIT_REVOKE_ROOT=true\nVAULT_TOKEN=" + appToken + "\n",
			kind:   "app",
		},
		{
			name:   "every VAULT_TOKEN line, so that no later one wins",
			before: ptr("VAULT_TOKEN=a\nX=1\nVAULT_TOKEN=b\n"),
			mode:   0o600,
			want:   "VAULT_TOKEN=" + appToken + "\nX=1\nVAULT_TOKEN=" + appToken + "\n",
			kind:   "app",
		},
		{
			name:   "a .env saved on Windows keeps its CRs",
			before: ptr("A=1\r\nVAULT_TOKEN=old\r\n"),
			mode:   0o600,
			want:   "A=1\r\nVAULT_TOKEN=" + appToken + "\r\n",
			kind:   "app",
		},
		{name: "root token without an app token", setup: noApp, before: ptr("A=1\n"), mode: 0o600,
			want: "A=1\nVAULT_TOKEN=" + rootToken + "\n", kind: "root"},
		{name: "root token when app-token prints no token", setup: func(f *fake) { f.set("app", "two words\nand a line") },
			want: "VAULT_TOKEN=" + rootToken + "\n", kind: "root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.set("app", appToken)
			f.set("root", rootToken)
			if tc.setup != nil {
				tc.setup(f)
			}
			dir := t.TempDir()
			env := filepath.Join(dir, ".env")
			wantMode := os.FileMode(0o600)
			if tc.before != nil {
				f.write(env, *tc.before, tc.mode)
				if err := os.Chmod(env, tc.mode); err != nil { // past the umask
					t.Fatal(err)
				}
				wantMode = tc.mode
			}
			out, errOut, err := f.run(env)
			if err != nil {
				t.Fatalf("env-token.sh: %v\n%s%s", err, out, errOut)
			}
			if !strings.Contains(out, "the "+tc.kind+" token") {
				t.Errorf("the output does not say it wrote the %s token:\n%s", tc.kind, out)
			}
			first := checkEnv(t, env, tc.want, wantMode)

			out, errOut, err = f.run(env)
			if err != nil {
				t.Fatalf("second run: %v\n%s%s", err, out, errOut)
			}
			if !strings.Contains(out, "unchanged") {
				t.Errorf("the second run does not say unchanged:\n%s", out)
			}
			if second := checkEnv(t, env, tc.want, wantMode); !os.SameFile(first, second) || !first.ModTime().Equal(second.ModTime()) {
				t.Error("the second run rewrote .env")
			}
		})
	}
}

// TestEnvTokenFailsLeavingEnvAlone: with no token to write, or no running
// container, the script exits non-zero, says why, and .env (or its absence)
// is exactly as it was.
func TestEnvTokenFailsLeavingEnvAlone(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*fake)
	}{
		{"no app token, root revoked", func(f *fake) {
			f.set("app.err", "no app token yet: run vault-init with VAULT_INIT_APP_TOKEN=true")
			f.set("root.err", "the root token was revoked after setup (VAULT_INIT_REVOKE_ROOT)")
		}},
		{"container not running", func(f *fake) { f.set("app", appToken); f.set("root", rootToken); f.set("running", "false") }},
		// The root token is no stand-in for an app token not issued yet.
		{"the app token on, not issued yet (exit 4)", func(f *fake) {
			f.set("app.code", "4")
			f.set("app.err", "VAULT_INIT_APP_TOKEN is on, but the app token is not issued yet")
			f.set("root", rootToken)
		}},
		{"no token printed", func(f *fake) { f.set("app", "hvs.FAKETOKEN with space"); f.set("root", "") }},
	}
	for _, tc := range cases {
		for _, exists := range []bool{true, false} {
			t.Run(tc.name+map[bool]string{true: ", .env exists", false: ", no .env"}[exists], func(t *testing.T) {
				f := newFake(t)
				tc.setup(f)
				dir := t.TempDir()
				env := filepath.Join(dir, ".env")
				const content = "A=1\nVAULT_TOKEN=hvs.old\n"
				var before os.FileInfo
				if exists {
					f.write(env, content, 0o640)
					if err := os.Chmod(env, 0o640); err != nil {
						t.Fatal(err)
					}
					before = checkEnv(t, env, content, 0o640)
				}
				out, errOut, err := f.run(env)
				if err == nil {
					t.Fatalf("env-token.sh succeeded:\n%s", out)
				}
				if !strings.Contains(errOut, "left as it was") {
					t.Errorf("stderr does not say .env was left alone:\n%s", errOut)
				}
				if !exists {
					if names := list(t, dir); len(names) != 0 {
						t.Errorf("the directory holds %v, want nothing", names)
					}
					return
				}
				if after := checkEnv(t, env, content, 0o640); !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
					t.Error(".env was rewritten")
				}
			})
		}
	}
}

// TestEnvTokenFollowsSymlink: a .env that links elsewhere stays a link; the
// file it names gets the token.
func TestEnvTokenFollowsSymlink(t *testing.T) {
	f := newFake(t)
	f.set("app", appToken)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "shared"), 0o700); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "shared", "aurora.env")
	f.write(real, "A=1\n", 0o600)
	env := filepath.Join(dir, ".env")
	if err := os.Symlink(filepath.Join("shared", "aurora.env"), env); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := f.run(env); err != nil {
		t.Fatalf("env-token.sh: %v\n%s%s", err, out, errOut)
	}
	if fi, err := os.Lstat(env); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf(".env is no longer a symlink (%v)", err)
	}
	checkEnv(t, real, "A=1\nVAULT_TOKEN="+appToken+"\n", 0o600)
}

// TestMakeEnvTokenNamesTheContainer: `make env-token` reads from
// VAULT_NAME_PREFIX's vault-init, as `make logs` and `make status` do:
// from the environment, else .env, else the seed's name.
func TestMakeEnvTokenNamesTheContainer(t *testing.T) {
	requireTool(t, "make")
	dir := t.TempDir()
	for _, name := range []string{"Makefile", "tools/vault/go.mod", "tools/etcd/go.mod", "tools/localkms/go.mod", "tools/coredns/go.mod"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_NAME_PREFIX=") {
			env = append(env, kv)
		}
	}
	makeN := func(extra ...string) string {
		cmd := exec.Command("make", "-s", "-n", "env-token")
		cmd.Dir, cmd.Env = dir, append(append([]string{}, env...), extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n env-token: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got, want := makeN(), "scripts/env-token.sh vault-init .env"; got != want {
		t.Errorf("seed names: make env-token runs %q, want %q", got, want)
	}
	if got, want := makeN("VAULT_NAME_PREFIX=e2e-"), "scripts/env-token.sh e2e-vault-init .env"; got != want {
		t.Errorf("VAULT_NAME_PREFIX=e2e-: make env-token runs %q, want %q", got, want)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("VAULT_NAME_PREFIX=y-\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := makeN(), "scripts/env-token.sh y-vault-init .env"; got != want {
		t.Errorf("VAULT_NAME_PREFIX=y- in .env: make env-token runs %q, want %q", got, want)
	}
}

// checkEnv asserts path's content and mode, that it is alone in its
// directory (no temp file left), and returns its FileInfo.
func checkEnv(t *testing.T, path, want string, mode os.FileMode) os.FileInfo {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != want {
		t.Errorf("%s is\n%q\nwant\n%q", filepath.Base(path), raw, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %o, want %o", filepath.Base(path), fi.Mode().Perm(), mode)
	}
	dir := filepath.Dir(path)
	if names := list(t, dir); len(names) != 1 {
		t.Errorf("%s holds %v, want %s alone (a temp file left?)", dir, names, filepath.Base(path))
	}
	return fi
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func ptr(s string) *string { return &s }

// TestEnvTokenWarnsWorldReadable: a .env that every user may read keeps its
// mode (the file is the operator's), but the script warns that it now
// holds a token; a private one gets no warning.
func TestEnvTokenWarnsWorldReadable(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o640, false}, {0o600, false}} {
		f := newFake(t)
		f.set("app", appToken)
		env := filepath.Join(t.TempDir(), ".env")
		f.write(env, "A=1\n", tc.mode)
		if err := os.Chmod(env, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := f.run(env)
		if err != nil {
			t.Fatalf("%04o: %v\n%s", tc.mode, err, errOut)
		}
		if got := strings.Contains(errOut, "readable by every user") && strings.Contains(errOut, "chmod 600"); got != tc.warn {
			t.Errorf("%04o: warned %v, want %v:\n%s", tc.mode, got, tc.warn, errOut)
		}
		checkEnv(t, env, "A=1\nVAULT_TOKEN="+appToken+"\n", tc.mode)
	}
}
