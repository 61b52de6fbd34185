package k8sstore_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
)

// Saving the keystore (plaintext or age) ends the init claim in the same
// update: once the keys are kept, no claim is left to block the cluster
// months later (after an operator removed the keys blob, say). Other
// annotations stay; saving another blob leaves the claim alone.
func TestKeystorePutClearsClaim(t *testing.T) {
	for _, name := range []string{keystore.FileName, keystore.AgeFileName} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			s := e.open()
			release, err := s.ClaimInit("vault-0")
			if err != nil {
				t.Fatal(err)
			}
			release(true) // sys/init was sent: the claim stays
			sec := e.get()
			sec.Annotations["operator/note"] = "kept"
			if _, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(keystore.AppTokenFileName, []byte("token")); err != nil {
				t.Fatal(err)
			}
			if by := e.get().Annotations[k8sstore.AnnotationClaimedBy]; by != "vault-0" {
				t.Fatalf("after a Put of the app token the claim is %q, want vault-0's", by)
			}

			if err := s.Put(name, []byte("the keys")); err != nil {
				t.Fatal(err)
			}
			sec = e.get()
			if string(sec.Data[name]) != "the keys" {
				t.Fatalf("the keystore blob holds %q", sec.Data[name])
			}
			for _, a := range []string{k8sstore.AnnotationClaimedBy, k8sstore.AnnotationClaimedAt} {
				if v, ok := sec.Annotations[a]; ok {
					t.Errorf("after the keystore was saved the annotation %s=%q is left", a, v)
				}
			}
			if sec.Annotations["operator/note"] != "kept" {
				t.Errorf("annotations after the save: %v, want operator/note kept", sec.Annotations)
			}

			// The operator removes the keys blob: another vault-init may
			// claim (and will ask Vault whether it is initialized), not be
			// told that vault-0 claimed and saved nothing.
			delete(sec.Data, name)
			if _, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			release, err = e.open().ClaimInit("vault-1")
			if err != nil {
				t.Fatalf("ClaimInit after the keys were saved and removed = %v, want the claim", err)
			}
			release(false)
		})
	}
}

// A Secret that holds the keys and still the claim of an older vault-init
// (which left it there): saving the same bytes again removes the claim.
func TestKeystorePutSameBytesClearsOldClaim(t *testing.T) {
	e := newEnv(t)
	e.create(managed, map[string][]byte{keystore.FileName: []byte("the keys")})
	sec := e.get()
	sec.Annotations = map[string]string{k8sstore.AnnotationClaimedBy: "vault-0", k8sstore.AnnotationClaimedAt: "2024-01-02T03:04:05Z"}
	if _, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.open().Put(keystore.FileName, []byte("the keys")); err != nil {
		t.Fatal(err)
	}
	if a := e.get().Annotations; a[k8sstore.AnnotationClaimedBy] != "" || a[k8sstore.AnnotationClaimedAt] != "" {
		t.Errorf("annotations after the save: %v, want no claim", a)
	}
}
