package k8sstore_test

import (
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// The Secret passes the Store conformance suite: its claim outlives a
// release after sys/init, and its Put is a compare-and-swap.
func TestConformance(t *testing.T) {
	var envs sync.Map // *testing.T → *env: Break finds the namespace Fresh made
	storetest.Run(t, storetest.Backend{
		Fresh: func(t *testing.T) func() keystore.Store {
			e := newEnv(t)
			envs.Store(t, e)
			return func() keystore.Store { return e.open() }
		},
		// An admin takes the managed-by label off: the Secret, and so the
		// blob, still exists, and becomes foreign.
		Break: func(t *testing.T, open func() keystore.Store, name string) {
			v, ok := envs.Load(t)
			if !ok {
				t.Fatal("Break called without Fresh on the same test")
			}
			e := v.(*env)
			sec := e.get()
			delete(sec.Labels, k8sstore.LabelManagedBy)
			if _, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		},
		ClaimKept: true,
		LockIsCAS: true,
	})
}
