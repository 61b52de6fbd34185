package k8stest_test

import (
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/k8stest"
)

// kubectl reads the kubeconfig files: the token's user is who the server
// sees, and KubeconfigIn's namespace is the one kubectl uses.
func TestKubeconfigWithKubectl(t *testing.T) {
	s := k8stest.Shared(t)
	kubectl := k8stest.KubectlBinary(t)
	ns := s.NewNamespace(t)
	token := s.ServiceAccountToken(t, ns, "cli")

	out, err := s.Kubectl(t, token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil {
		t.Fatalf("kubectl auth whoami: %v\n%s", err, out)
	}
	if want := "system:serviceaccount:" + ns + ":cli"; out != want {
		t.Fatalf("kubectl auth whoami = %q, want %q", out, want)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "v"}}
	if _, err := s.Core(t).Secrets(ns).Create(t.Context(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Grant(t, ns, "cli", "read-s", rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"s"},
	})
	cmd := exec.CommandContext(t.Context(), kubectl, "--kubeconfig="+s.KubeconfigIn(t, token, ns),
		"--cache-dir="+t.TempDir(), "get", "secret", "s", "-o", "jsonpath={.metadata.namespace}")
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get secret in the kubeconfig's namespace: %v\n%s", err, raw)
	}
	if got := strings.TrimSpace(string(raw)); got != ns {
		t.Fatalf("kubectl read the secret of namespace %q, want %q", got, ns)
	}
}
