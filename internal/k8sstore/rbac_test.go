package k8sstore_test

import (
	"errors"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/aurora/vault-init/internal/k8stest"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// secretRule allows verbs on secrets, on the one named resourceName when
// it is not empty.
func secretRule(resourceName string, verbs ...string) rbacv1.PolicyRule {
	r := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: verbs}
	if resourceName != "" {
		r.ResourceNames = []string{resourceName}
	}
	return r
}

// A service account with exactly k8stest.KeystoreRules does the whole cycle of the
// keystore, from an absent Secret; another Secret name is forbidden.
func TestRBACRules(t *testing.T) {
	e := newEnv(t)
	e.s.Grant(t, e.ns, "vault-init", "vault-init-keystore", k8stest.KeystoreRules(secretName)...)
	cfg := e.s.Config(e.s.ServiceAccountToken(t, e.ns, "vault-init"))
	s := e.openAs(cfg, secretName)
	keys := keystore.NewKeys(s)

	if err := keys.CheckWritable(); err != nil {
		t.Fatalf("CheckWritable (Probe) on an absent Secret: %v", err)
	}
	release, err := keys.Claim("vault-0")
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if err := keys.CheckWritable(); err != nil {
		t.Fatalf("CheckWritable (Probe) on the claimed Secret: %v", err)
	}
	if _, err := keys.Load(); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Load before the save = %v, want ErrNotFound", err)
	}
	d := storetest.Sample()
	if err := keys.Save(d); err != nil {
		t.Fatalf("Save: %v", err)
	}
	release(true)
	if back, err := keystore.NewKeys(e.openAs(cfg, secretName)).Load(); err != nil || !back.Equal(d) {
		t.Fatalf("Load from another handle = %v, %v", back, err)
	}
	if _, err := keys.Update(func(d *keystore.InitData) { d.PendingRevoke = []string{"accessor"} }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := keys.SaveAppToken("hvs.app"); err != nil {
		t.Fatalf("SaveAppToken: %v", err)
	}
	if tok, err := keys.LoadAppToken(); err != nil || tok != "hvs.app" {
		t.Fatalf("LoadAppToken = %q, %v", tok, err)
	}
	if err := s.Delete(keystore.AppTokenFileName); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(keystore.AppTokenFileName); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}

	other := e.openAs(cfg, "other")
	for op, f := range map[string]func() error{
		"Get":   func() error { _, err := other.Get(keystore.FileName); return err },
		"Put":   func() error { return other.Put(keystore.FileName, []byte("x")) },
		"Probe": other.Probe,
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), `cannot get resource "secrets"`) {
			t.Errorf("%s on another Secret = %v, want a 403 for get", op, err)
		}
	}
}
