package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The snippet for the official hashicorp/vault chart, and the RBAC objects
// that chart cannot template. They are written for the release "vault"
// (ServiceAccount "vault") and the keys Secret "vault-keys".
var (
	officialValues = filepath.Join(repo, "deploy", "helm", "official-vault-values.yaml")
	officialRBAC   = filepath.Join(repo, "deploy", "helm", "official-vault-rbac.yaml")
)

const (
	officialRelease    = "vault"
	officialSA         = "vault"
	officialKeysSecret = "vault-keys"
)

func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// officialPodParts decodes the snippet's server.extraContainers and
// server.volumes strictly into the API's types.
func officialPodParts(t *testing.T, vals map[string]any) ([]corev1.Container, []corev1.Volume) {
	t.Helper()
	server, _ := vals["server"].(map[string]any)
	var spec corev1.PodSpec
	raw, err := yaml.Marshal(map[string]any{"containers": server["extraContainers"], "volumes": server["volumes"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, &spec); err != nil {
		t.Fatalf("server.extraContainers or server.volumes do not decode as a pod's: %v", err)
	}
	return spec.Containers, spec.Volumes
}

// checkOfficialSidecar: the sidecar as the snippet gives it, whether read
// from the snippet or from the official chart's rendering.
func checkOfficialSidecar(t *testing.T, containers []corev1.Container, volumes []corev1.Volume) {
	t.Helper()
	c := container(t, corev1.PodSpec{Containers: containers}, "vault-init")
	for name, want := range map[string]string{
		"VAULT_INIT_KEYSTORE":      "kubernetes",
		"VAULT_INIT_K8S_SECRET":    officialKeysSecret,
		"VAULT_INIT_K8S_NAMESPACE": "fieldRef:metadata.namespace",
		"VAULT_ADDR":               "http://127.0.0.1:8200",
		"VAULT_INIT_LISTEN":        ":9180",
	} {
		if got := envOf(t, c, name); got != want {
			t.Errorf("vault-init %s = %q, want %q", name, got, want)
		}
	}
	known := knownSettings(t)
	for _, e := range c.Env {
		if !known[e.Name] {
			t.Errorf("the snippet's sidecar sets %s, which is no vault-init setting", e.Name)
		}
	}
	for _, m := range c.VolumeMounts {
		if !slices.ContainsFunc(volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
			t.Errorf("vault-init mounts %s, which is not among the pod's volumes", m.Name)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("vault-init securityContext %+v", sc)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("vault-init liveness probe %+v", c.LivenessProbe)
	}
}

// TestOfficialSnippetStructure checks the snippet and the RBAC file by
// themselves: the sidecar in server.extraContainers and server.volumes
// decodes strictly as a pod's containers and volumes, sets only vault-init
// settings and mounts only volumes of the snippet; server.ha turns on Raft
// with a retry_join template; the RBAC objects give exactly the chart's
// least privilege to the ServiceAccount `vault`. It does not read the
// official chart (it is not in this repository, and is not ours to copy):
// whether the chart knows these value names, copies extraContainers and
// volumes into its pod and passes the raft config through tpl is checked
// only by TestOfficialSnippetRendersThroughOfficialChart, with
// VAULT_HELM_CHART.
func TestOfficialSnippetStructure(t *testing.T) {
	vals := readValues(t, officialValues)
	containers, volumes := officialPodParts(t, vals)
	checkOfficialSidecar(t, containers, volumes)
	server := vals["server"].(map[string]any)
	ha, _ := server["ha"].(map[string]any)
	raft, _ := ha["raft"].(map[string]any)
	if ha["enabled"] != true || raft["enabled"] != true || raft["setNodeId"] != true {
		t.Errorf("server.ha %v: want ha and raft enabled, node ids from the pods", ha)
	}
	config, _ := raft["config"].(string)
	for _, want := range []string{"until (int .Values.server.ha.replicas)", `template "vault.fullname" $`, "retry_join", "disable_mlock = true"} {
		if !strings.Contains(config, want) {
			t.Errorf("server.ha.raft.config lacks %q", want)
		}
	}
	role, rb := officialRBACObjects(t)
	checkLeastPrivilege(t, role.Rules, officialKeysSecret)
	if rb.RoleRef.Name != role.Name || len(rb.Subjects) != 1 ||
		rb.Subjects[0] != (rbacv1.Subject{Kind: "ServiceAccount", Name: officialSA}) {
		t.Errorf("RoleBinding %+v: want the Role bound to the ServiceAccount %s of the binding's namespace", rb, officialSA)
	}
	if role.Namespace != "" || rb.Namespace != "" {
		t.Error("the RBAC file names a namespace: it is applied with -n into the release's")
	}
}

// readManifest decodes the objects of a YAML file strictly.
func readManifest(t *testing.T, file string) []object {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseManifest(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return objs
}

// officialRBACObjects decodes official-vault-rbac.yaml strictly.
func officialRBACObjects(t *testing.T) (*rbacv1.Role, *rbacv1.RoleBinding) {
	t.Helper()
	objs := readManifest(t, officialRBAC)
	r := rendering{objects: objs}
	if len(objs) != 2 {
		t.Fatalf("%s holds %d objects, want a Role and a RoleBinding", officialRBAC, len(objs))
	}
	return only[*rbacv1.Role](t, r), only[*rbacv1.RoleBinding](t, r)
}

// officialChartSkip starts the message of the tests that skip without the
// official chart; each says what is then not covered.
const officialChartSkip = "VAULT_HELM_CHART is not set (a directory holding hashicorp/vault-helm, its Chart.yaml at the top); NOT covered"

// TestOfficialSnippetRendersThroughOfficialChart renders the official chart
// with the snippet, for 3 and 5 replicas. The chart's source is not in this
// repository (it is not ours to copy): set VAULT_HELM_CHART to a directory
// holding hashicorp/vault-helm (its Chart.yaml at the top).
func TestOfficialSnippetRendersThroughOfficialChart(t *testing.T) {
	dir := os.Getenv("VAULT_HELM_CHART")
	if dir == "" {
		t.Skip(officialChartSkip + ": that the official chart knows the snippet's value names (server.ha.raft.config, " +
			"server.extraContainers, server.volumes, ...), puts the vault-init container and its volumes into its StatefulSet, " +
			"renders retry_join with the addresses of VAULT_INIT_PEERS, gives the pods the fsGroup vault-init reads its token through, " +
			"and runs them as the ServiceAccount the RBAC file binds")
	}
	for _, replicas := range []int{3, 5} {
		t.Run(fmt.Sprint(replicas, " replicas"), func(t *testing.T) {
			vals := readValues(t, officialValues)
			vals["server"].(map[string]any)["ha"].(map[string]any)["replicas"] = replicas
			if replicas != 3 {
				// What the snippet's comment asks for: VAULT_INIT_PEERS
				// in step with server.ha.replicas.
				setOfficialPeers(t, vals, replicas)
			}
			r, err := renderChart(t, dir, officialRelease, "vault", vals)
			if err != nil {
				t.Fatalf("render the official chart: %v", err)
			}
			sts := only[*appsv1.StatefulSet](t, r)
			spec := sts.Spec.Template.Spec
			checkOfficialSidecar(t, spec.Containers, spec.Volumes)
			if sc := spec.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != vaultGroup {
				t.Errorf("the official chart's pod securityContext %+v: want fsGroup %d, through which vault-init reads its token", sc, vaultGroup)
			}
			if spec.ServiceAccountName != officialSA {
				t.Errorf("the official chart's pods run as %s, the RBAC file binds %s", spec.ServiceAccountName, officialSA)
			}
			var config string
			for _, cm := range all[*corev1.ConfigMap](r) {
				config += cm.Data["extraconfig-from-values.hcl"]
			}
			_, addrs := retryJoinAddrs(t, config)
			var want []string
			for i := range replicas {
				want = append(want, fmt.Sprintf("http://%s-%d.%s:8200", sts.Name, i, sts.Spec.ServiceName))
			}
			if !slices.Equal(addrs, want) {
				t.Errorf("retry_join %v, want %v", addrs, want)
			}
			if peers := peersOf(t, sidecar(t, sts)); !slices.Equal(peers, addrs) {
				t.Errorf("VAULT_INIT_PEERS %v, retry_join %v: not the same addresses", peers, addrs)
			}
			for _, o := range r.objects {
				if o.kind() == "Secret" || findKey(o.raw, "ownerReferences", "") != "" {
					t.Errorf("%s %s: a Secret or an owner reference", o.kind(), o.name())
				}
			}
		})
	}
}

// setOfficialPeers sets the snippet's VAULT_INIT_PEERS to replicas
// addresses of the form it has for 3.
func setOfficialPeers(t *testing.T, vals map[string]any, replicas int) {
	t.Helper()
	c := vals["server"].(map[string]any)["extraContainers"].([]any)[0].(map[string]any)
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		if e["name"] != "VAULT_INIT_PEERS" {
			continue
		}
		var peers []string
		for i := range replicas {
			peers = append(peers, fmt.Sprintf("http://%s-%d.%s-internal:8200", officialRelease, i, officialRelease))
		}
		e["value"] = strings.Join(peers, ",")
		return
	}
	t.Fatal("the snippet's sidecar has no VAULT_INIT_PEERS")
}

// TestOfficialSnippetImageComment: the snippet's image is a placeholder,
// and says so where it is set.
func TestOfficialSnippetImageComment(t *testing.T) {
	raw, err := os.ReadFile(officialValues)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "image: vault-init") {
			if c := commentAbove(string(raw), strings.TrimSpace(l)); !strings.Contains(c, "registry") {
				t.Errorf("no comment above %q says to replace it with the image from your registry", strings.TrimSpace(l))
			}
			return
		}
	}
	t.Error("the snippet's sidecar has no image: vault-init line")
}
