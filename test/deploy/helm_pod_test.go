package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func sidecar(t *testing.T, sts *appsv1.StatefulSet) corev1.Container {
	t.Helper()
	return container(t, sts.Spec.Template.Spec, "vault-init")
}

// envOf returns the value of the container's variable: its literal value,
// or "fieldRef:<path>" for the downward API. It fails when the variable is
// missing or set twice.
func envOf(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	var got []string
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			got = append(got, "fieldRef:"+e.ValueFrom.FieldRef.FieldPath)
		case e.ValueFrom != nil:
			got = append(got, fmt.Sprintf("valueFrom:%+v", *e.ValueFrom))
		default:
			got = append(got, e.Value)
		}
	}
	if len(got) != 1 {
		t.Fatalf("container %s sets %s %d times, want once", c.Name, name, len(got))
	}
	return got[0]
}

// knownSettings returns the environment names of config.Options: the only
// names vault-init reads (a renamed or misspelt one would be ignored).
func knownSettings(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, o := range configOptions(t) {
		known[o.Env] = true
	}
	return known
}

// TestHelmSidecarEnv: the keystore settings, the local Vault, the listener
// the probe uses; every variable is a vault-init setting (a misspelt one
// would be ignored silently).
func TestHelmSidecarEnv(t *testing.T) {
	known := knownSettings(t)
	forEachValueSet(t, func(t *testing.T, vs valueSet, r rendering) {
		c := sidecar(t, only[*appsv1.StatefulSet](t, r))
		scheme := "http"
		if vs.name == "tls" {
			scheme = "https"
		}
		want := map[string]string{
			"VAULT_INIT_KEYSTORE":      "kubernetes",
			"VAULT_INIT_K8S_SECRET":    fullname + "-keys",
			"VAULT_INIT_K8S_NAMESPACE": "fieldRef:metadata.namespace",
			"VAULT_ADDR":               scheme + "://127.0.0.1:8200",
			"VAULT_INIT_DATA_DIR":      "/vault-init",
			"VAULT_INIT_LISTEN":        ":9180",
		}
		for name, v := range want {
			if got := envOf(t, c, name); got != v {
				t.Errorf("%s = %q, want %q", name, got, v)
			}
		}
		for _, e := range c.Env {
			if !known[e.Name] {
				t.Errorf("the sidecar sets %s, which is no vault-init setting", e.Name)
			}
			if e.Name == "VAULT_TOKEN" {
				t.Error("the sidecar's spec holds a token")
			}
		}
		if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" ||
			!slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
				return cp.Name == p.HTTPGet.Port.String() && fmt.Sprint(":", cp.ContainerPort) == envOf(t, c, "VAULT_INIT_LISTEN")
			}) {
			t.Errorf("the liveness probe %+v does not reach /healthz on VAULT_INIT_LISTEN's port (ports %+v)", c.LivenessProbe, c.Ports)
		}
	})
}

// vaultHCL is the part of Vault's configuration the chart's promises rest on.
type vaultHCL struct {
	DisableMlock bool
	Listener     map[string]any // the tcp listener's attributes
}

// block returns the only block named name (with the label, if any) in an
// HCL document decoded into maps (HCL v1 decodes a list of blocks into a
// struct slice wrongly when they have several attributes).
func block(t *testing.T, m map[string]any, name, label string) map[string]any {
	t.Helper()
	list, _ := m[name].([]map[string]any)
	if len(list) != 1 {
		t.Fatalf("vault.hcl: %d %s blocks, want 1", len(list), name)
	}
	if label == "" {
		return list[0]
	}
	inner, _ := list[0][label].([]map[string]any)
	if len(inner) != 1 {
		t.Fatalf("vault.hcl: no %s %q block", name, label)
	}
	return inner[0]
}

// retryJoinAddrs parses a Vault configuration and returns its raft
// retry_join addresses.
func retryJoinAddrs(t *testing.T, config string) (vaultHCL, []string) {
	t.Helper()
	c, joins := retryJoins(t, config)
	var addrs []string
	for _, j := range joins {
		addr, _ := j["leader_api_addr"].(string)
		addrs = append(addrs, addr)
	}
	return c, addrs
}

// retryJoins parses a Vault configuration and returns its raft retry_join
// blocks.
func retryJoins(t *testing.T, config string) (vaultHCL, []map[string]any) {
	t.Helper()
	var m map[string]any
	if err := hcl.Unmarshal([]byte(config), &m); err != nil {
		t.Fatalf("vault.hcl: %v\n%s", err, config)
	}
	raft := block(t, m, "storage", "raft")
	if raft["path"] != "/vault/data" {
		t.Errorf("vault.hcl: raft path %v, want /vault/data", raft["path"])
	}
	joins, _ := raft["retry_join"].([]map[string]any)
	mlock, _ := m["disable_mlock"].(bool)
	return vaultHCL{DisableMlock: mlock, Listener: block(t, m, "listener", "tcp")}, joins
}

// nodeName is the name of replica i of the chart's StatefulSet sts in
// namespace ns: resolvable from any namespace, and matched by the
// certificate name *.<fullname>-internal.<ns>.svc.
func nodeName(sts string, i int, ns string) string {
	return fmt.Sprintf("%s-%d.%s-internal.%s.svc", sts, i, sts, ns)
}

// nodeAddrs are the API addresses of the chart's replicas.
func nodeAddrs(scheme, sts, ns string, replicas int) []string {
	var addrs []string
	for i := range replicas {
		addrs = append(addrs, fmt.Sprintf("%s://%s:8200", scheme, nodeName(sts, i, ns)))
	}
	return addrs
}

// TestHelmRetryJoinCoversEveryReplica: every node lists every replica, by
// the headless service that publishes not-ready pods (a sealed node must be
// reachable to join), under the names the certificate must hold.
func TestHelmRetryJoinCoversEveryReplica(t *testing.T) {
	forEachValueSet(t, func(t *testing.T, vs valueSet, r rendering) {
		sts := only[*appsv1.StatefulSet](t, r)
		cm := only[*corev1.ConfigMap](t, r)
		c, addrs := retryJoinAddrs(t, cm.Data["vault.hcl"])
		scheme := "http"
		if vs.name == "tls" {
			scheme = "https"
		}
		want := nodeAddrs(scheme, sts.Name, releaseNS, int(*sts.Spec.Replicas))
		if !slices.Equal(addrs, want) {
			t.Errorf("retry_join %v, want %v", addrs, want)
		}
		if vs.name == "age-5-replicas-app-token" && len(want) != 5 {
			t.Errorf("replicas=5 gave %d replicas", len(want))
		}
		if !c.DisableMlock {
			t.Error("disable_mlock is not set, and the Vault container has no IPC_LOCK")
		}
		var headless *corev1.Service
		for _, s := range all[*corev1.Service](r) {
			if s.Name == sts.Spec.ServiceName {
				headless = s
			}
		}
		if headless == nil || headless.Spec.ClusterIP != "None" || !headless.Spec.PublishNotReadyAddresses ||
			!mapsEqual(headless.Spec.Selector, sts.Spec.Selector.MatchLabels) {
			t.Errorf("no headless service %s-internal that publishes not-ready pods: %+v", sts.Name, headless)
		}
		if sts.Spec.ServiceName != fullname+"-internal" {
			t.Errorf("serviceName %s", sts.Spec.ServiceName)
		}
		vault := container(t, sts.Spec.Template.Spec, "vault")
		for name, want := range map[string]string{
			"VAULT_API_ADDR":     scheme + "://$(POD_NAME)." + fullname + "-internal." + releaseNS + ".svc:8200",
			"VAULT_CLUSTER_ADDR": "https://$(POD_NAME)." + fullname + "-internal." + releaseNS + ".svc:8201",
			"VAULT_RAFT_NODE_ID": "$(POD_NAME)",
			"POD_NAME":           "fieldRef:metadata.name",
		} {
			if got := envOf(t, vault, name); got != want {
				t.Errorf("vault %s = %q, want %q", name, got, want)
			}
		}
	})
}

// TestHelmAgeIdentity: with age on, the identity file vault-init is told
// about is in a volume from the identity Secret, mounted into vault-init
// only; with age off, no age setting at all.
func TestHelmAgeIdentity(t *testing.T) {
	for _, vs := range valueSets {
		spec := only[*appsv1.StatefulSet](t, mustRender(t, vs.vals)).Spec.Template.Spec
		c := container(t, spec, "vault-init")
		age := vs.vals["age"] != nil
		has := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return strings.HasPrefix(e.Name, "VAULT_INIT_AGE_") })
		if has != age {
			t.Errorf("%s: age settings present %v, want %v", vs.name, has, age)
		}
		if !age {
			continue
		}
		if got := envOf(t, c, "VAULT_INIT_AGE_RECIPIENT"); got != testRecipient {
			t.Errorf("VAULT_INIT_AGE_RECIPIENT = %q", got)
		}
		file := envOf(t, c, "VAULT_INIT_AGE_IDENTITY_FILE")
		var found bool
		for _, m := range c.VolumeMounts {
			for _, v := range spec.Volumes {
				if v.Name != m.Name || v.Secret == nil || !strings.HasPrefix(file, m.MountPath+"/") {
					continue
				}
				found = v.Secret.SecretName == fullname+"-age" && len(v.Secret.Items) == 1 &&
					m.MountPath+"/"+v.Secret.Items[0].Path == file && m.ReadOnly
			}
		}
		if !found {
			t.Errorf("%s: %s is not the identity Secret's file, mounted read-only", vs.name, file)
		}
		for _, m := range container(t, spec, "vault").VolumeMounts {
			if strings.Contains(m.Name, "age") {
				t.Errorf("the identity is mounted into Vault's container too")
			}
		}
	}
}
