package k8sstore_test

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/k8stest"
	"github.com/aurora/vault-init/internal/keystore"
)

// Every test runs against the real kube-apiserver that k8stest shares
// among the tests of this binary, in a namespace of its own.
func TestMain(m *testing.M) { k8stest.Main(m) }

// secretName is the Secret every test keeps its keystore in.
const secretName = "vault-init"

// env is a test's namespace on the shared server.
type env struct {
	t     *testing.T
	s     *k8stest.Server
	ns    string
	admin corev1client.SecretInterface
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := k8stest.Shared(t)
	ns := s.NewNamespace(t)
	return &env{t: t, s: s, ns: ns, admin: s.Core(t).Secrets(ns)}
}

// open returns a new handle (a separate client, as another pod has) on the
// env's Secret, as the admin.
func (e *env) open() *k8sstore.Secret { return e.openAs(e.s.AdminConfig(), secretName) }

func (e *env) openAs(cfg *rest.Config, name string) *k8sstore.Secret {
	e.t.Helper()
	s, err := k8sstore.Open(cfg, e.ns, name)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	return s
}

// get reads the Secret as the admin, or fails.
func (e *env) get() *corev1.Secret {
	e.t.Helper()
	sec, err := e.admin.Get(e.t.Context(), secretName, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("admin get secret: %v", err)
	}
	return sec
}

// create makes the Secret as the admin, with labels and data of the test's
// choosing.
func (e *env) create(labels map[string]string, data map[string][]byte) *corev1.Secret {
	e.t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Labels: labels}, Data: data}
	sec, err := e.admin.Create(e.t.Context(), sec, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("admin create secret: %v", err)
	}
	return sec
}

// unchanged fails the test unless the Secret is exactly as before (same
// resourceVersion: not even a no-op write reached it).
func (e *env) unchanged(before *corev1.Secret) {
	e.t.Helper()
	after := e.get()
	if after.ResourceVersion != before.ResourceVersion {
		e.t.Errorf("secret was written: resourceVersion %s, was %s", after.ResourceVersion, before.ResourceVersion)
	}
	for k, v := range before.Data {
		if !bytes.Equal(after.Data[k], v) {
			e.t.Errorf("secret key %s changed", k)
		}
	}
}

var managed = map[string]string{k8sstore.LabelManagedBy: k8sstore.ManagedBy}

var _ keystore.Store = (*k8sstore.Secret)(nil)
