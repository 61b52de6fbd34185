package k8stest

import rbacv1 "k8s.io/api/rbac/v1"

// KeystoreRules are the rules the kubernetes keystore (internal/k8sstore)
// needs on its Secret, and exactly what the chart's Role grants: get and
// update of that Secret by name, and create of secrets (the authorizer
// cannot limit a create by name). The keystore's RBAC test, the fault
// suite and the chart's test all take them from here.
func KeystoreRules(secret string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secret}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
	}
}
