package k8stest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Core returns a core/v1 client for the admin, or fails the test.
func (s *Server) Core(t testing.TB) corev1client.CoreV1Interface {
	t.Helper()
	c, err := corev1client.NewForConfig(s.AdminConfig())
	if err != nil {
		t.Fatalf("k8stest: core client: %v", err)
	}
	return c
}

// Kubeconfig writes a kubeconfig file (mode 0600, under t.TempDir()) whose
// one context reaches the server with the bearer token, verifying the
// server against CAData, and returns its path. Its context names no
// namespace, so clients use "default".
func (s *Server) Kubeconfig(t testing.TB, token string) string {
	t.Helper()
	return s.KubeconfigIn(t, token, "")
}

// KubeconfigIn is Kubeconfig with namespace as the context's namespace.
func (s *Server) KubeconfigIn(t testing.TB, token, namespace string) string {
	t.Helper()
	type named struct {
		Name    string         `json:"name"`
		Cluster map[string]any `json:"cluster,omitempty"`
		User    map[string]any `json:"user,omitempty"`
		Context map[string]any `json:"context,omitempty"`
	}
	context := map[string]any{"cluster": "k8stest", "user": "k8stest"}
	if namespace != "" {
		context["namespace"] = namespace
	}
	// JSON is YAML too: kubectl and clientcmd read it as it is.
	raw, err := json.MarshalIndent(map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"clusters":        []named{{Name: "k8stest", Cluster: map[string]any{"server": s.Host, "certificate-authority-data": s.CAData}}},
		"users":           []named{{Name: "k8stest", User: map[string]any{"token": token}}},
		"contexts":        []named{{Name: "k8stest", Context: context}},
		"current-context": "k8stest",
	}, "", "  ")
	if err != nil {
		t.Fatalf("k8stest: kubeconfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatalf("k8stest: write kubeconfig: %v", err)
	}
	return path
}

// Kubectl runs kubectl (KubectlBinary) against the server as the token's
// user, with a kubeconfig and cache dir of this test, and returns its
// combined output and error.
func (s *Server) Kubectl(t testing.TB, token string, args ...string) (string, error) {
	t.Helper()
	bin := KubectlBinary(t)
	full := append([]string{"--kubeconfig=" + s.Kubeconfig(t, token), "--cache-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(t.Context(), bin, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// notLabel is what a namespace name may not contain.
var notLabel = regexp.MustCompile(`[^a-z0-9]+`)

// NewNamespace creates a namespace named after the test (plus a random
// suffix) and returns its name. It is left in place: without a
// controller-manager a deleted namespace would stay Terminating anyway,
// and the objects help to understand a failure.
func (s *Server) NewNamespace(t testing.TB) string {
	t.Helper()
	prefix := strings.Trim(notLabel.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "k8stest"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	created, err := s.Core(t).Namespaces().Create(t.Context(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("k8stest: create namespace: %v", err)
	}
	return created.Name
}

// ServiceAccountToken returns a bearer token for the service account
// (created when absent) from the TokenRequest API, valid for an hour, with
// the apiserver's default audience. The account has no permissions beyond
// what every authenticated user has until a test grants some (Grant).
func (s *Server) ServiceAccountToken(t testing.TB, namespace, serviceAccount string) string {
	t.Helper()
	sas := s.Core(t).ServiceAccounts(namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: serviceAccount}}
	if _, err := sas.Create(t.Context(), sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("k8stest: create service account %s/%s: %v", namespace, serviceAccount, err)
	}
	hour := int64(3600)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}
	tr, err := sas.CreateToken(t.Context(), serviceAccount, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("k8stest: token request for %s/%s: %v", namespace, serviceAccount, err)
	}
	return tr.Status.Token
}
