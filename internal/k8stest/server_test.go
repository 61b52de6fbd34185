package k8stest_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/aurora/vault-init/internal/k8stest"
)

// A server of the test's own stores a Secret and gives it back, over TLS
// that is verified: the same config without the CA is refused.
func TestStartStoresSecret(t *testing.T) {
	s := k8stest.Start(t)
	if !strings.HasPrefix(s.Host, "https://127.0.0.1:") {
		t.Fatalf("Host = %q, want https on loopback", s.Host)
	}
	core, err := corev1client.NewForConfig(s.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "keys", Namespace: "default"},
		Data:       map[string][]byte{"k": []byte("v")},
	}
	if _, err := core.Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	got, err := core.Secrets("default").Get(ctx, "keys", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get secret: %v", err)
	}
	if string(got.Data["k"]) != "v" {
		t.Fatalf("secret data = %q, want %q", got.Data, "v")
	}

	noCA := s.AdminConfig()
	noCA.TLSClientConfig.CAData = nil
	unverified, err := corev1client.NewForConfig(noCA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = unverified.Secrets("default").Get(ctx, "keys", metav1.GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("get without the CA: err = %v, want a certificate error", err)
	}
}

// Namespaces are named after the test and never repeat.
func TestNewNamespace(t *testing.T) {
	s := k8stest.Shared(t)
	a, b := s.NewNamespace(t), s.NewNamespace(t)
	if a == b {
		t.Fatalf("two namespaces named %q", a)
	}
	for _, ns := range []string{a, b} {
		if !strings.HasPrefix(ns, "testnewnamespace-") {
			t.Errorf("namespace %q is not named after the test", ns)
		}
		if _, err := s.Core(t).Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); err != nil {
			t.Errorf("get namespace %s: %v", ns, err)
		}
	}
}
