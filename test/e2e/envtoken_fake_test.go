// Package e2e holds the fast tests of the e2e's tooling and of the scripts
// that `make e2e` walks through (e2e.sh itself needs a Docker engine).
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	appToken  = "hvs.FAKETOKENapp0123456789abcdef"
	rootToken = "hvs.FAKETOKENroot0123456789abcd"
	// secretMark is in both tokens: no output, argv or leftover may hold it.
	secretMark = "FAKETOKEN"
	container  = "x-vault-init"
)

// The commands env-token.sh may run besides docker. Each is a wrapper that
// logs its argv, so that a token passed on a command line is caught; one
// missing here makes the script fail with "command not found".
var wrapped = []string{"mktemp", "rm", "tr", "sed", "readlink", "dirname", "stat", "chmod", "cmp", "sync", "mv", "chgrp"}

// fakeDocker answers `docker inspect -f ... CONTAINER` with the file
// running, and `docker exec CONTAINER vault-init KIND-token` with the file
// KIND (or, without it, vault-init's error and the exit code in KIND.code,
// 1 by default, as the real commands do: 4 is an app token that is on but
// not issued yet). Any other container is "No such container".
const fakeDocker = `#!/bin/sh
dir=%q
printf 'docker %%s\n' "$*" >>"$dir/argv.log"
case $1 in
inspect)
    for c; do :; done
    [ "$c" = %q ] || { echo "Error: No such object: $c" >&2; exit 1; }
    IFS= read -r r <"$dir/running"; printf '%%s\n' "$r" ;;
exec)
    [ "$2" = %q ] || { echo "Error response from daemon: No such container: $2" >&2; exit 1; }
    [ "$3 $4" = "vault-init app-token" ] || [ "$3 $4" = "vault-init root-token" ] || { echo "unexpected: $*" >&2; exit 2; }
    kind=${4%%-token}
    if [ -f "$dir/$kind" ]; then
        while IFS= read -r l || [ -n "$l" ]; do printf '%%s\n' "$l"; done <"$dir/$kind"
    elif [ -f "$dir/$kind.err" ]; then
        code=1; [ ! -f "$dir/$kind.code" ] || IFS= read -r code <"$dir/$kind.code"
        IFS= read -r e <"$dir/$kind.err"; echo "vault-init: $e" >&2; exit "$code"
    else
        echo "vault-init: no $kind token here" >&2; exit 1
    fi ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
`

// fake is one run's world: a bin dir with the fake docker and the
// wrappers, and the files that say what the fake docker answers.
type fake struct {
	t    *testing.T
	dir  string // the fake's state and argv.log
	bin  string // the only directory on PATH
	bash string
}

// requireTool fails under CI (a skip must not pass there) and skips otherwise.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is needed; CI is set, so this fails instead of skipping", name)
	}
	t.Skipf("%s is needed (under CI this is a failure)", name)
	return ""
}

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{t: t, dir: t.TempDir(), bin: t.TempDir(), bash: requireTool(t, "bash")}
	f.write(filepath.Join(f.bin, "docker"), fmt.Sprintf(fakeDocker, f.dir, container, container), 0o755)
	for _, name := range wrapped {
		real := requireTool(t, name)
		f.write(filepath.Join(f.bin, name), fmt.Sprintf("#!/bin/sh\nprintf '%%s %%s\\n' %q \"$*\" >>%q\nexec %q \"$@\"\n",
			name, filepath.Join(f.dir, "argv.log"), real), 0o755)
	}
	f.set("running", "true")
	return f
}

func (f *fake) write(path, content string, mode os.FileMode) {
	f.t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		f.t.Fatal(err)
	}
}

// set makes the fake docker answer name (running, env, app, root,
// app.err, root.err) with content; unset removes the answer.
func (f *fake) set(name, content string) { f.write(filepath.Join(f.dir, name), content+"\n", 0o600) }
func (f *fake) unset(name string) {
	if err := os.Remove(filepath.Join(f.dir, name)); err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
}

// run runs scripts/env-token.sh CONTAINER envFile; it checks that the token
// is in neither its output nor the argv of any command it ran.
func (f *fake) run(envFile string) (stdout, stderr string, err error) {
	f.t.Helper()
	cmd := exec.Command(f.bash, filepath.Join("..", "..", "scripts", "env-token.sh"), container, envFile)
	cmd.Env = []string{"PATH=" + f.bin, "TMPDIR=" + f.t.TempDir(), "LC_ALL=C"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	for what, s := range map[string]string{"stdout": out.String(), "stderr": errOut.String(), "argv": f.argv()} {
		if strings.Contains(s, secretMark) {
			f.t.Errorf("a token is in the %s of env-token.sh:\n%s", what, s)
		}
	}
	return out.String(), errOut.String(), err
}

// argv is every command line the script ran so far.
func (f *fake) argv() string {
	raw, err := os.ReadFile(filepath.Join(f.dir, "argv.log"))
	if err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
	return string(raw)
}
