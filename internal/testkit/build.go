package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Package is the import path of the vault-init program. It is built by
// import path, so that a test package anywhere in the module can build it.
const Package = "github.com/aurora/vault-init/cmd/vault-init"

// Binary says how to build vault-init: the file name and the `go build`
// flags and environment. The values below are the builds the tests use.
type Binary struct {
	Name  string
	Flags []string // go build flags, before -o
	Env   []string // added to the environment of go build
}

var (
	// Plain is a plain `go build`.
	Plain = Binary{Name: "vault-init"}
	// FaultInject has the fault hooks of internal/faultinject.
	FaultInject = Binary{Name: "vault-init-faults", Flags: []string{"-tags", "faultinject"}}
	// Release is built as the image builds it (see the Dockerfile).
	Release = Binary{Name: "vault-init-release", Flags: []string{"-trimpath", "-ldflags", "-s -w"}, Env: []string{"CGO_ENABLED=0"}}
)

// Build builds b into dir and returns the binary's path. The error holds
// the compiler's output.
func (b Binary) Build(dir string) (string, error) {
	path := filepath.Join(dir, b.Name)
	args := append(append([]string{"build"}, b.Flags...), "-o", path, Package)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), b.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return path, nil
}

// BuildAll builds each binary once, for a TestMain, into one new
// directory that every user may enter (a test may run vault-init as
// another user). It returns the paths in the order of bins and a func
// that removes the directory; on an error nothing is left behind.
func BuildAll(bins ...Binary) (paths []string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "vault-init-bin-")
	if err != nil {
		return nil, nil, fmt.Errorf("build dir: %w", err)
	}
	remove = func() { os.RemoveAll(dir) }
	if err := os.Chmod(dir, 0o755); err != nil {
		remove()
		return nil, nil, fmt.Errorf("build dir: %w", err)
	}
	for _, b := range bins {
		p, err := b.Build(dir)
		if err != nil {
			remove()
			return nil, nil, err
		}
		paths = append(paths, p)
	}
	return paths, remove, nil
}
