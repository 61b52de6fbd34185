package k8sstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// An immutable Secret (labelled as vault-init's) can never take the keys:
// Probe, and so CheckWritable before sys/init, fails and says why, as do
// the writes; the keys already in it still read (unsealing goes on), with
// a warning. Nothing is written.
func TestImmutableSecret(t *testing.T) {
	for name, withKeys := range map[string]bool{"empty": false, "with keys": true} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if withKeys {
				if err := keystore.NewKeys(e.open()).Save(storetest.Sample()); err != nil {
					t.Fatal(err)
				}
			} else {
				e.create(managed, nil)
			}
			sec := e.get()
			yes := true
			sec.Immutable = &yes
			before, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := e.open()
			ops := map[string]func() error{
				"Probe":         s.Probe,
				"CheckWritable": keystore.NewKeys(e.open()).CheckWritable,
				"Put":           func() error { return s.Put(keystore.AppTokenFileName, []byte("x")) },
			}
			if !withKeys {
				ops["ClaimInit"] = func() error { _, err := s.ClaimInit("vault-0"); return err }
			} else {
				ops["Delete"] = func() error { return s.Delete(keystore.FileName) }
			}
			for op, f := range ops {
				err := f()
				if !errors.Is(err, k8sstore.ErrImmutable) || !strings.Contains(err.Error(), e.ns+"/"+secretName) || !strings.Contains(err.Error(), "immutable") {
					t.Errorf("%s on an immutable Secret = %v, want ErrImmutable naming the Secret", op, err)
				}
			}
			if withKeys {
				got, err := keystore.NewKeys(s).Load()
				if err != nil || !got.Equal(storetest.Sample()) {
					t.Errorf("Load from an immutable Secret = %v, %v; want the keys", got, err)
				}
				if w := strings.Join(s.Warnings(), "\n"); !strings.Contains(w, "immutable") {
					t.Errorf("Warnings = %q, want one about immutable", w)
				}
			}
			e.unchanged(before)
		})
	}
}

// An admission policy that forbids changing the Secret's data (as immutable
// would, or a policy engine) fails Probe: its dry run changes the data,
// as every Put does, not just resends the Secret as it is.
func TestProbeDataFrozenByPolicy(t *testing.T) {
	e := newEnv(t)
	before := e.create(managed, map[string][]byte{keystore.AppTokenFileName: []byte("x")})
	freezeData(t, e)
	err := e.open().Probe()
	if err == nil || !strings.Contains(err.Error(), "data frozen by test policy") {
		t.Fatalf("Probe under a policy that forbids data changes = %v, want the policy's denial", err)
	}
	if err := e.open().Put(keystore.AppTokenFileName, []byte("y")); err == nil {
		t.Fatal("Put went through the policy: the test's policy does not work")
	}
	e.unchanged(before)
}

// freezeData installs a ValidatingAdmissionPolicy that denies any update
// of a Secret in e's namespace that changes its data, and waits until the
// API server enforces it.
func freezeData(t *testing.T, e *env) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.s.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	adm := cs.AdmissionregistrationV1()
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "freeze-" + e.ns},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"}},
				},
			}}},
			Validations: []admissionv1.Validation{{
				Expression: "has(object.data) == has(oldObject.data) && (!has(object.data) || object.data == oldObject.data)",
				Message:    "data frozen by test policy",
			}},
		},
	}
	if _, err := adm.ValidatingAdmissionPolicies().Create(t.Context(), policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": e.ns},
			}},
		},
	}
	if _, err := adm.ValidatingAdmissionPolicyBindings().Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = adm.ValidatingAdmissionPolicyBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = adm.ValidatingAdmissionPolicies().Delete(context.Background(), policy.Name, metav1.DeleteOptions{})
	})
	// The API server loads policies asynchronously: poll a dry-run data
	// change until it is denied.
	deadline := time.After(time.Minute)
	for {
		sec := e.get()
		sec.Data["probe-of-the-test"] = []byte("x")
		_, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "data frozen by test policy") {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("the test's admission policy was not enforced within a minute (last dry run: %v)", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
