package k8sstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
)

// Outside a cluster, RESTConfig and DefaultNamespace follow $KUBECONFIG's
// current context, and the store works through them.
func TestKubeconfig(t *testing.T) {
	e := newEnv(t)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", e.s.KubeconfigIn(t, e.s.AdminToken(), e.ns))
	if ns := k8sstore.DefaultNamespace(); ns != e.ns {
		t.Errorf("DefaultNamespace = %q, want the context's %q", ns, e.ns)
	}
	cfg, err := k8sstore.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	s, err := k8sstore.Open(cfg, k8sstore.DefaultNamespace(), secretName)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(keystore.AppTokenFileName, []byte("hvs.x")); err != nil {
		t.Fatal(err)
	}
	if string(e.get().Data[keystore.AppTokenFileName]) != "hvs.x" {
		t.Fatal("the write did not reach the context's namespace")
	}

	t.Setenv("KUBECONFIG", e.s.Kubeconfig(t, e.s.AdminToken()))
	if ns := k8sstore.DefaultNamespace(); ns != "default" {
		t.Errorf("DefaultNamespace with a context without namespace = %q, want default", ns)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("HOME", t.TempDir())
	if _, err := k8sstore.RESTConfig(); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("RESTConfig without any configuration = %v, want an error naming the kubeconfig", err)
	}
}

// In a pod, the namespace is the pod's own.
func TestDefaultNamespaceInPod(t *testing.T) {
	file := filepath.Join(t.TempDir(), "namespace")
	if err := os.WriteFile(file, []byte("vault\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k8sstore.SetNamespaceFile(t, file)
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
	if ns := k8sstore.DefaultNamespace(); ns != "vault" {
		t.Errorf("DefaultNamespace in a pod = %q, want vault", ns)
	}
}

// Open checks the names, and touches no server.
func TestOpenChecksNames(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	for _, c := range []struct{ ns, name string }{{"", "vault-init"}, {"Vault", "vault-init"}, {"vault", ""}, {"vault", "a/b"}} {
		if _, err := k8sstore.Open(cfg, c.ns, c.name); err == nil {
			t.Errorf("Open(%q, %q) = nil error", c.ns, c.name)
		}
	}
	if _, err := k8sstore.Open(nil, "vault", "vault-init"); err == nil {
		t.Error("Open(nil config) = nil error")
	}
	if _, err := k8sstore.Open(cfg, "vault", "vault-init"); err != nil {
		t.Errorf("Open = %v", err)
	}
}
