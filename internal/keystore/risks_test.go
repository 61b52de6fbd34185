package keystore_test

import (
	"slices"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
)

// warningStore is a data dir that reports a warning, as a Kubernetes
// Secret with an owner reference does.
type warningStore struct{ *keystore.File }

func (warningStore) Warnings() []string { return []string{"owned by ConfigMap/x"} }

func TestRisks(t *testing.T) {
	if r := keystore.New(t.TempDir()).Risks(); r != nil {
		t.Fatalf("a data dir's risks = %v, want none", r)
	}
	k := keystore.NewKeys(warningStore{keystore.New(t.TempDir())})
	if r := k.Risks(); !slices.Equal(r, []string{"owned by ConfigMap/x"}) {
		t.Fatalf("risks = %v, want the store's warning", r)
	}
}
