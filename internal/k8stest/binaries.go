package k8stest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The versions `make k8s-bins` builds (the Makefile's K8S_VERSION and
// tools/etcd/go.mod); versions_test.go keeps them in step.
const (
	// KubernetesVersion is the kube-apiserver and kubectl release, and
	// v0.<minor>.<patch> of it the client-go the root module requires.
	KubernetesVersion = "1.34.3"
	// EtcdVersion is the etcd server release.
	EtcdVersion = "3.6.5"
)

// EtcdBinary returns the etcd server to test against: $ETCD_BIN, else the
// repository's bin/etcd-EtcdVersion. When there is none it fails the test
// if CI is set, and skips it (naming `make k8s-bins`) otherwise.
func EtcdBinary(t testing.TB) string {
	t.Helper()
	return binary(t, "ETCD_BIN", "etcd-"+EtcdVersion)
}

// APIServerBinary returns the kube-apiserver to test against:
// $KUBE_APISERVER_BIN, else bin/k8s-KubernetesVersion/kube-apiserver. It
// fails or skips as EtcdBinary does.
func APIServerBinary(t testing.TB) string {
	t.Helper()
	return binary(t, "KUBE_APISERVER_BIN", filepath.Join("k8s-"+KubernetesVersion, "kube-apiserver"))
}

// KubectlBinary returns the kubectl to run: $KUBECTL_BIN, else
// bin/k8s-KubernetesVersion/kubectl. It fails or skips as EtcdBinary does.
func KubectlBinary(t testing.TB) string {
	t.Helper()
	return binary(t, "KUBECTL_BIN", filepath.Join("k8s-"+KubernetesVersion, "kubectl"))
}

// binary resolves one binary: the env var wins, else bin/rel under the
// repository root. A missing one is a failure under CI (a skip must never
// count as a pass there) and a skip elsewhere.
func binary(t testing.TB, env, rel string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		root, err := repoRoot()
		if err != nil {
			missing(t, fmt.Sprintf("%s is not set and the repository root was not found (%v)", env, err))
			return ""
		}
		path = filepath.Join(root, "bin", rel)
	}
	if info, err := os.Stat(path); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		missing(t, fmt.Sprintf("no executable %s (set %s, or run `make k8s-bins` to build it)", path, env))
		return ""
	}
	return path
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("k8stest: %s; CI is set, so this fails instead of skipping", why)
		return
	}
	t.Skipf("k8stest: %s (under CI this is a failure)", why)
}

// repoRoot walks up from the working directory to the go.mod of the root
// module, so that a test in a nested module (test/deploy) finds bin/ too.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(raw, []byte("module github.com/aurora/vault-init\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod of github.com/aurora/vault-init not found above the working directory")
		}
		dir = parent
	}
}
