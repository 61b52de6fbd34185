package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/aurora/vault-init/internal/k8stest"
)

// fullname is the chart's <fullname> for releaseName ("aurora" does not
// contain the chart's name, so it is release-chart).
const fullname = releaseName + "-vault-init"

// TestHelmLint: `helm lint --strict` passes with every value set (warnings
// fail too; information such as "icon is recommended" does not).
func TestHelmLint(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			l := action.NewLint()
			l.Strict, l.Namespace = true, releaseNS
			kv := kubeVersion
			l.KubeVersion = &kv
			res := l.Run([]string{chartDir}, vs.vals)
			for _, m := range res.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("lint: %s", m.Error())
				}
			}
			for _, err := range res.Errors {
				t.Errorf("lint: %v", err)
			}
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
			}
		})
	}
}

// TestHelmObjects: every object parses strictly into its API type, sits in
// the release's namespace and carries the release's labels; the expected
// kinds are all there.
func TestHelmObjects(t *testing.T) {
	want := []string{"ConfigMap", "PodDisruptionBudget", "Role", "RoleBinding", "Service", "Service", "ServiceAccount", "StatefulSet"}
	forEachValueSet(t, func(t *testing.T, _ valueSet, r rendering) {
		var kinds []string
		for _, o := range r.objects {
			kinds = append(kinds, o.kind())
			md := o.raw["metadata"].(map[string]any)
			if md["namespace"] != releaseNS {
				t.Errorf("%s %s: namespace %v, want %s", o.kind(), o.name(), md["namespace"], releaseNS)
			}
			labels, _ := md["labels"].(map[string]any)
			if labels["app.kubernetes.io/instance"] != releaseName {
				t.Errorf("%s %s: labels %v", o.kind(), o.name(), labels)
			}
		}
		slices.Sort(kinds)
		if !slices.Equal(kinds, want) {
			t.Errorf("rendered kinds %v, want %v", kinds, want)
		}
	})
}

// TestHelmRoleIsLeastPrivilege: get and update on the keys Secret by name,
// create on secrets, nothing else; bound to the pods' ServiceAccount; no
// cluster-wide RBAC.
func TestHelmRoleIsLeastPrivilege(t *testing.T) {
	forEachValueSet(t, func(t *testing.T, _ valueSet, r rendering) {
		role := only[*rbacv1.Role](t, r)
		checkLeastPrivilege(t, role.Rules, fullname+"-keys")
		if n := len(all[*rbacv1.ClusterRole](r)) + len(all[*rbacv1.ClusterRoleBinding](r)); n != 0 {
			t.Errorf("%d cluster-wide RBAC objects rendered", n)
		}
		rb := only[*rbacv1.RoleBinding](t, r)
		sts := only[*appsv1.StatefulSet](t, r)
		if rb.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name}) {
			t.Errorf("RoleBinding refers to %+v, not the Role %s", rb.RoleRef, role.Name)
		}
		wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: sts.Spec.Template.Spec.ServiceAccountName, Namespace: releaseNS}
		if len(rb.Subjects) != 1 || rb.Subjects[0] != wantSubject {
			t.Errorf("RoleBinding subjects %+v, want only %+v", rb.Subjects, wantSubject)
		}
		if sa := only[*corev1.ServiceAccount](t, r); sa.Name != wantSubject.Name {
			t.Errorf("ServiceAccount %s, the pods run as %s", sa.Name, wantSubject.Name)
		}
	})
	src, err := os.ReadFile(filepath.Join(chartDir, "templates", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "resourceNames cannot narrow create") {
		t.Error("the Role's template does not say that resourceNames cannot narrow create")
	}
}

// checkLeastPrivilege: exactly the two rules vault-init needs.
func checkLeastPrivilege(t *testing.T, rules []rbacv1.PolicyRule, secret string) {
	t.Helper()
	want := k8stest.KeystoreRules(secret)
	if len(rules) != len(want) {
		t.Fatalf("Role has %d rules, want %d: %+v", len(rules), len(want), rules)
	}
	for i, r := range rules {
		verbs := slices.Clone(r.Verbs)
		slices.Sort(verbs)
		w := want[i]
		if !slices.Equal(r.APIGroups, w.APIGroups) || !slices.Equal(r.Resources, w.Resources) ||
			!slices.Equal(r.ResourceNames, w.ResourceNames) || !slices.Equal(verbs, w.Verbs) || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %d is %+v, want %+v", i, r, w)
		}
	}
}

// TestHelmNoKeysSecretNoOwners: the chart templates no Secret at all (the
// keys Secret is vault-init's, and `helm uninstall` must keep it), nothing
// named like the keys Secret, and no ownerReferences anywhere.
func TestHelmNoKeysSecretNoOwners(t *testing.T) {
	forEachValueSet(t, func(t *testing.T, _ valueSet, r rendering) {
		keys := envOf(t, sidecar(t, only[*appsv1.StatefulSet](t, r)), "VAULT_INIT_K8S_SECRET")
		for _, o := range r.objects {
			if o.kind() == "Secret" {
				t.Errorf("the chart templates a Secret, %s (%s)", o.name(), o.source)
			}
			if o.name() == keys || o.name() == "vault-init" {
				t.Errorf("%s %s is named like the keys Secret (%s)", o.kind(), o.name(), o.source)
			}
			if path := findKey(o.raw, "ownerReferences", o.kind()); path != "" {
				t.Errorf("ownerReferences at %s", path)
			}
			if ann, _ := o.raw["metadata"].(map[string]any)["annotations"].(map[string]any); ann["helm.sh/resource-policy"] != nil {
				t.Errorf("%s %s has a resource policy: nothing of the chart should outlive the release but the keys", o.kind(), o.name())
			}
		}
	})
}

// findKey returns the path of the first key named key in v, or "".
func findKey(v any, key, path string) string {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == key {
				return path + "." + k
			}
			if p := findKey(e, key, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for _, e := range v {
			if p := findKey(e, key, path+"[]"); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestHelmPodDisruptionBudget: raft keeps a majority through drains. Below
// 3 replicas raft has no node to spare: maxUnavailable 0 would block every
// drain for ever, and allowing one down loses the majority (of 2) or all
// of Vault (of 1); so no PodDisruptionBudget is rendered, and NOTES.txt
// says so. An explicit maxUnavailable is rendered as given.
func TestHelmPodDisruptionBudget(t *testing.T) {
	for replicas, want := range map[int]int{1: -1, 2: -1, 3: 1, 4: 1, 5: 2, 7: 3} {
		r := mustRender(t, map[string]any{"replicas": replicas})
		pdbs := all[*policyv1.PodDisruptionBudget](r)
		warned := strings.Contains(r.notes, "No PodDisruptionBudget")
		if want < 0 {
			if len(pdbs) != 0 {
				t.Errorf("%d replicas: a PodDisruptionBudget %+v, want none", replicas, pdbs[0].Spec)
			}
			if !warned || !strings.Contains(r.notes, fmt.Sprintf("%d replica", replicas)) {
				t.Errorf("%d replicas: NOTES.txt does not warn that there is no PodDisruptionBudget:\n%s", replicas, r.notes)
			}
			continue
		}
		if warned {
			t.Errorf("%d replicas: NOTES.txt warns of a missing PodDisruptionBudget", replicas)
		}
		pdb := only[*policyv1.PodDisruptionBudget](t, r)
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != want || pdb.Spec.MinAvailable != nil {
			t.Errorf("%d replicas: maxUnavailable %v, minAvailable %v, want maxUnavailable %d", replicas,
				pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable, want)
		}
		if got := pdb.Spec.Selector.MatchLabels; !mapsEqual(got, only[*appsv1.StatefulSet](t, r).Spec.Selector.MatchLabels) {
			t.Errorf("the PDB selects %v, not the StatefulSet's pods", got)
		}
	}
	r := mustRender(t, map[string]any{"replicas": 2, "podDisruptionBudget": map[string]any{"maxUnavailable": 1}})
	if pdb := only[*policyv1.PodDisruptionBudget](t, r); pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("an explicit maxUnavailable 1 renders %v", pdb.Spec.MaxUnavailable)
	}
	r = mustRender(t, map[string]any{"podDisruptionBudget": map[string]any{"enabled": false}})
	if n := len(all[*policyv1.PodDisruptionBudget](r)); n != 0 || strings.Contains(r.notes, "No PodDisruptionBudget") {
		t.Errorf("podDisruptionBudget.enabled=false: %d PodDisruptionBudgets, NOTES:\n%s", n, r.notes)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestHelmNotes: NOTES.txt says how to read the root token, and that the
// keys outlive `helm uninstall`.
func TestHelmNotes(t *testing.T) {
	r := mustRender(t, nil)
	for _, want := range []string{
		"kubectl -n " + releaseNS + " exec " + fullname + "-0 -c vault-init -- vault-init root-token",
		"kubectl -n " + releaseNS + " delete secret " + fullname + "-keys",
		"`helm uninstall` KEEPS the Secret",
	} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("NOTES.txt does not say %q:\n%s", want, r.notes)
		}
	}
}
