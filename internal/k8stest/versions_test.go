package k8stest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The versions the lookup expects are the ones `make k8s-bins` builds, and
// client-go is the apiserver's release.
func TestVersionsMatchTheBuild(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(rel string) string {
		raw, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	want := map[string]string{
		"Makefile":          "K8S_VERSION ?= " + KubernetesVersion + "\n",
		"tools/etcd/go.mod": "go.etcd.io/etcd/server/v3 v" + EtcdVersion + "\n",
		"go.mod":            "k8s.io/client-go v0." + strings.TrimPrefix(KubernetesVersion, "1.") + "\n",
	}
	for file, line := range want {
		if !strings.Contains(read(file), line) {
			t.Errorf("%s does not have %q", file, strings.TrimSpace(line))
		}
	}
}
