package k8sstore_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// Another tool adopts the keys Secret (an owner reference: garbage
// collection would delete it with its owner), or it is being deleted (held
// only by a finalizer). The keys still read, so unsealing goes on, and
// Warnings says what threatens them, naming the owner; a clean Secret has
// no warnings.
func TestWarnings(t *testing.T) {
	e := newEnv(t)
	s := e.open()
	keys := keystore.NewKeys(s)
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("Warnings before any read = %q", w)
	}
	if err := keys.Save(storetest.Sample()); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Load(); err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("Warnings of the Secret vault-init made = %q", w)
	}

	owner, err := e.s.Core(t).ConfigMaps(e.ns).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vault-app"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec := e.get()
	sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}}
	sec.Finalizers = []string{"example.com/hold"}
	if _, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := keys.Load(); err != nil || !got.Equal(storetest.Sample()) {
		t.Fatalf("Load of an adopted Secret = %v, %v; want the keys", got, err)
	}
	w := strings.Join(s.Warnings(), "\n")
	for _, want := range []string{e.ns + "/" + secretName, "owner reference (ConfigMap/vault-app)", "garbage collection"} {
		if !strings.Contains(w, want) {
			t.Errorf("Warnings = %q, want it to say %q", w, want)
		}
	}
	if strings.Contains(w, storetest.Sample().RootToken) {
		t.Errorf("Warnings quote the root token")
	}

	// Deleted: the finalizer holds it, with a deletionTimestamp.
	if err := e.admin.Delete(t.Context(), secretName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if sec, err := e.admin.Get(ctx, secretName, metav1.GetOptions{}); err == nil {
			sec.Finalizers = nil
			_, _ = e.admin.Update(ctx, sec, metav1.UpdateOptions{})
		}
	})
	if _, err := keys.Load(); err != nil {
		t.Fatalf("Load of a Secret being deleted = %v, want the keys", err)
	}
	if w := strings.Join(s.Warnings(), "\n"); !strings.Contains(w, "being deleted") || !strings.Contains(w, "example.com/hold") {
		t.Errorf("Warnings of a Secret being deleted = %q", w)
	}
}
