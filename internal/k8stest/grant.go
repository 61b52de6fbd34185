package k8stest

import (
	"context"
	"fmt"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	rbacv1client "k8s.io/client-go/kubernetes/typed/rbac/v1"
)

// Grant creates a Role called name in namespace with rules, and a
// RoleBinding of the same name that gives it to the namespace's service
// account serviceAccount. It returns once the apiserver's authorizer allows
// the first rule (its first verb, resource and resource name) to the
// account: RBAC reads roles through an informer, so a request sent right
// after the create could still be refused.
func (s *Server) Grant(t testing.TB, namespace, serviceAccount, name string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	cfg := s.AdminConfig()
	rbac, err := rbacv1client.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("k8stest: rbac client: %v", err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	if _, err := rbac.Roles(namespace).Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("k8stest: create role %s/%s: %v", namespace, name, err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: serviceAccount}},
	}
	if _, err := rbac.RoleBindings(namespace).Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("k8stest: create role binding %s/%s: %v", namespace, name, err)
	}
	if len(rules) == 0 || len(rules[0].Verbs) == 0 || len(rules[0].Resources) == 0 {
		return
	}
	authz, err := authorizationv1client.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("k8stest: authorization client: %v", err)
	}
	r := rules[0]
	attrs := &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: r.Verbs[0], Resource: r.Resources[0]}
	if len(r.APIGroups) > 0 {
		attrs.Group = r.APIGroups[0]
	}
	if len(r.ResourceNames) > 0 {
		attrs.Name = r.ResourceNames[0]
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               fmt.Sprintf("system:serviceaccount:%s:%s", namespace, serviceAccount),
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: attrs,
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		got, err := authz.SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err == nil && got.Status.Allowed {
			return
		}
		timer := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.Fatalf("k8stest: role %s/%s did not take effect for %s within 30s (last review: %+v, error: %v)",
				namespace, name, review.Spec.User, got, err)
		case <-timer.C:
		}
	}
}
