package deploy

import (
	"os"
	"sync"
	"testing"

	"github.com/aurora/vault-init/internal/k8stest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
)

// The tests of this package that need an apiserver share one
// (internal/k8stest: a real etcd and kube-apiserver, `make k8s-bins`).
func TestMain(m *testing.M) { k8stest.Main(m) }

// warnings collects the apiserver's warnings (deprecated APIs, duplicate
// env names, ...): each one fails the test too.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// apply sends every object to the apiserver with server-side apply, into
// namespace, as the admin; dryRun asks for DryRun=All (validated, admitted,
// not stored). A schema or validation error, or a warning, fails the test.
func apply(t *testing.T, s *k8stest.Server, namespace string, objs []object, dryRun bool) {
	t.Helper()
	cfg := s.AdminConfig()
	warned := &warnings{}
	cfg.WarningHandler = warned
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.ApplyOptions{FieldManager: "vault-init-deploy-test"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(o.raw)}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s %s (%s): the apiserver does not serve it: %v", o.kind(), o.name(), o.source, err)
			continue
		}
		ri := dynamic.ResourceInterface(dyn.Resource(m.Resource))
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(namespace)
		}
		if _, err := ri.Apply(t.Context(), u.GetName(), u, opts); err != nil {
			t.Errorf("%s %s (%s): %v", o.kind(), o.name(), o.source, err)
		}
	}
	for _, w := range warned.list {
		t.Errorf("apiserver warning: %s", w)
	}
}

// TestHelmServerSideDryRun: every object the chart renders, with every value
// set, passes the apiserver's schema, validation and admission; so do the
// RBAC objects for the official chart and, when VAULT_HELM_CHART is set, the
// official chart rendered with the snippet.
func TestHelmServerSideDryRun(t *testing.T) {
	s := k8stest.Shared(t)
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			ns := s.NewNamespace(t)
			r, err := renderChart(t, chartDir, releaseName, ns, vs.vals)
			if err != nil {
				t.Fatal(err)
			}
			apply(t, s, ns, r.objects, true)
		})
	}
	t.Run("official RBAC", func(t *testing.T) {
		apply(t, s, s.NewNamespace(t), readManifest(t, officialRBAC), true)
	})
	t.Run("official chart", func(t *testing.T) {
		dir := os.Getenv("VAULT_HELM_CHART")
		if dir == "" {
			t.Skip(officialChartSkip + ": that the objects of the official chart rendered with the snippet " +
				"pass the apiserver's schema, validation and admission (the RBAC file above is covered)")
		}
		ns := s.NewNamespace(t)
		r, err := renderChart(t, dir, officialRelease, ns, readValues(t, officialValues))
		if err != nil {
			t.Fatal(err)
		}
		apply(t, s, ns, r.objects, true)
	})
}

// TestHelmRBACAgainstAPIServer: with the chart's ServiceAccount, Role and
// RoleBinding really applied, the account's token can do exactly what
// vault-init needs with the keys Secret (create, get, update) and nothing
// else the apiserver would allow by accident; likewise the official chart's
// RBAC file. Creating a Secret of another name stays possible: resourceNames
// cannot narrow create (the Role says so).
func TestHelmRBACAgainstAPIServer(t *testing.T) {
	s := k8stest.Shared(t)
	t.Run("chart", func(t *testing.T) {
		ns := s.NewNamespace(t)
		r, err := renderChart(t, chartDir, releaseName, ns, nil)
		if err != nil {
			t.Fatal(err)
		}
		var rbac []object
		for _, o := range r.objects {
			switch o.kind() {
			case "ServiceAccount", "Role", "RoleBinding":
				rbac = append(rbac, o)
			}
		}
		apply(t, s, ns, rbac, false)
		checkKeysAccess(t, s, ns, fullname, fullname+"-keys")
	})
	t.Run("official", func(t *testing.T) {
		ns := s.NewNamespace(t)
		apply(t, s, ns, readManifest(t, officialRBAC), false)
		checkKeysAccess(t, s, ns, officialSA, officialKeysSecret)
	})
}

// checkKeysAccess tries, as serviceAccount, every request vault-init makes
// and the ones it must not be able to make.
func checkKeysAccess(t *testing.T, s *k8stest.Server, ns, serviceAccount, keys string) {
	t.Helper()
	admin := s.Core(t).Secrets(ns)
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}, StringData: map[string]string{"k": "v"}}
	if _, err := admin.Create(t.Context(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.Config(s.ServiceAccountToken(t, ns, serviceAccount)))
	if err != nil {
		t.Fatal(err)
	}
	sec := cs.CoreV1().Secrets(ns)
	ctx := t.Context()
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v, want allowed", what, err)
		}
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want forbidden", what, err)
		}
	}
	created, err := sec.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: keys}, Data: map[string][]byte{"k": []byte("1")}}, metav1.CreateOptions{})
	allowed("create the keys Secret", err)
	got, err := sec.Get(ctx, keys, metav1.GetOptions{})
	allowed("get the keys Secret", err)
	if err == nil && created != nil {
		got.Data["k"] = []byte("2")
		_, err = sec.Update(ctx, got, metav1.UpdateOptions{})
		allowed("update the keys Secret", err)
	}
	_, err = sec.List(ctx, metav1.ListOptions{})
	forbidden("list secrets", err)
	_, err = sec.Watch(ctx, metav1.ListOptions{})
	forbidden("watch secrets", err)
	forbidden("delete the keys Secret", sec.Delete(ctx, keys, metav1.DeleteOptions{}))
	_, err = sec.Patch(ctx, keys, types.MergePatchType, []byte(`{"data":{"k":"Mw=="}}`), metav1.PatchOptions{})
	forbidden("patch the keys Secret", err)
	_, err = sec.Get(ctx, other.Name, metav1.GetOptions{})
	forbidden("get another Secret", err)
	_, err = cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	forbidden("get a ConfigMap", err)
	_, err = cs.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
	forbidden("list leases", err)
	_, err = sec.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "any-name"}}, metav1.CreateOptions{})
	allowed("create a Secret of another name (resourceNames cannot narrow create)", err)
}
