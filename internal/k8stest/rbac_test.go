package k8stest_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/aurora/vault-init/internal/k8stest"
)

// A service account's token reads nothing until a Role grants it get on
// one Secret by name; then it reads that one and still no other.
func TestServiceAccountTokenAndGrant(t *testing.T) {
	s := k8stest.Shared(t)
	ns := s.NewNamespace(t)
	admin := s.Core(t)
	ctx := t.Context()
	for _, name := range []string{"mine", "other"} {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"k": []byte(name)}}
		if _, err := admin.Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create secret %s: %v", name, err)
		}
	}

	token := s.ServiceAccountToken(t, ns, "reader")
	if token == "" {
		t.Fatal("empty service account token")
	}
	sa, err := corev1client.NewForConfig(s.Config(token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Secrets(ns).Get(ctx, "mine", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("get before the grant: err = %v, want Forbidden", err)
	}

	s.Grant(t, ns, "reader", "read-mine", rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"mine"},
	})
	got, err := sa.Secrets(ns).Get(ctx, "mine", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get after the grant: %v", err)
	}
	if string(got.Data["k"]) != "mine" {
		t.Fatalf("secret data = %q, want %q", got.Data, "mine")
	}
	if _, err := sa.Secrets(ns).Get(ctx, "other", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("get of another secret: err = %v, want Forbidden", err)
	}
	if _, err := sa.Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list: err = %v, want Forbidden", err)
	}

	// A second token for the same account: ServiceAccountToken does not
	// fail on the account it created before.
	if again := s.ServiceAccountToken(t, ns, "reader"); again == "" || strings.EqualFold(again, "null") {
		t.Fatalf("second token = %q", again)
	}
}
