//go:build k8scluster

// Package k8s_test installs the project's Helm chart into a real single-node
// Kubernetes (scripts/k8s-cluster.sh: kubelet, containerd, CNI, CoreDNS,
// kube-proxy) and proves the product there as an operator runs it. It runs
// through `make test-k8s` only (build tag k8scluster), which builds the
// images, starts the cluster, runs this and tears the cluster down.
package k8s_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	initBanner  = "Vault initialization complete"
	storageName = "vault-init-test-hostpath"
	// How long any one event may take to recover before the test fails. The
	// durations themselves are figures, never pass/fail.
	recoverLimit = 5 * time.Minute
)

func TestChartInCluster(t *testing.T) {
	c := newCluster(t)
	var figs figures
	defer figs.print()

	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	c.ns = "vault-init-test-" + hex.EncodeToString(suffix)
	ctx := context.Background()
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pvs []string
	t.Cleanup(func() {
		_, _ = c.try(c.helm, "uninstall", c.release, "-n", c.ns, "--wait", "--timeout", "2m")
		_ = c.cs.CoreV1().Namespaces().Delete(context.Background(), c.ns, metav1.DeleteOptions{})
		for _, pv := range pvs {
			_ = c.cs.CoreV1().PersistentVolumes().Delete(context.Background(), pv, metav1.DeleteOptions{})
		}
	})
	pvs = append(pvs, c.createVolumes(t, "a")...)
	values := c.writeValues(t)
	keysSecret := c.release + "-keys"

	// What must hold after every event: the same Vault (cluster ID), the
	// same root token in the Secret (no second init), the data written
	// after the install, three Raft voters, no container restarted, no
	// secret in any log, and the client Service reaching an unsealed Vault.
	var clusterID, rootToken string
	invariants := func(t *testing.T) {
		t.Helper()
		states := c.mustStates(t)
		for _, s := range states {
			if s.clusterID != clusterID {
				t.Errorf("%s: cluster ID %q, the install's was %q: a second Vault", s.pod, s.clusterID, clusterID)
			}
		}
		if got := c.exec(t, states[0].pod, "vault-init", "vault-init", "root-token"); got != rootToken {
			t.Errorf("the root token in the keys Secret changed: Vault was initialized again")
		}
		_, v := c.active(t, rootToken)
		sec, err := v.KVv2("aurora").Get(ctx, "k8s-test")
		if err != nil || sec.Data["written"] != clusterID {
			t.Errorf("aurora/k8s-test after the event: %v %v", sec, err)
		}
		c.checkRaft(t, rootToken)
		c.checkPods(t, keysSecret)
	}

	if !t.Run("install", func(t *testing.T) {
		start := time.Now()
		c.run(t, c.helm, "install", c.release, "../../deploy/helm/vault-init", "-n", c.ns, "-f", values)
		figs.add("helm install to every pod unsealed", c.waitUnsealed(t, start, nil, recoverLimit))

		states := c.mustStates(t)
		clusterID = states[0].clusterID
		for _, s := range states {
			if s.clusterID != clusterID || clusterID == "" {
				t.Fatalf("pods in different Vault clusters: %s has %q, %s has %q", states[0].pod, clusterID, s.pod, s.clusterID)
			}
		}
		if n := c.countInBanners(t, initBanner); n != 1 {
			t.Errorf("%d sidecars logged %q, want exactly 1", n, initBanner)
		}
		c.checkKeysSecret(t, keysSecret)
		rootToken = c.exec(t, states[0].pod, "vault-init", "vault-init", "root-token")
		if !strings.HasPrefix(rootToken, "hvs.") {
			t.Fatalf("vault-init root-token printed no token (%d bytes)", len(rootToken))
		}
		c.checkRaft(t, rootToken)
		_, v := c.active(t, rootToken)
		mounts, err := v.Sys().ListMountsWithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := mounts["aurora/"]; !ok || m.Type != "kv" || m.Options["version"] != "2" {
			t.Fatalf("aurora/ mount: %+v (present: %v), want kv version 2", m, ok)
		}
		if _, err := v.KVv2("aurora").Put(ctx, "k8s-test", map[string]any{"written": clusterID}); err != nil {
			t.Fatal(err)
		}
		c.checkPods(t, keysSecret)
	}) {
		return
	}

	if !t.Run("service account token and RBAC", func(t *testing.T) { c.checkCredentials(t, keysSecret) }) {
		return
	}

	// event times act from its start until no pod of gone is left and every
	// pod's Vault is unsealed (failing after recoverLimit), then checks the
	// invariants.
	event := func(t *testing.T, figure string, gone map[types.UID]bool, act func()) {
		t.Helper()
		start := time.Now()
		act()
		figs.add(figure, c.waitUnsealed(t, start, gone, recoverLimit))
		invariants(t)
	}
	rollout := []string{"-n", c.ns, "rollout", "status", "statefulset/" + c.release, "--timeout=" + recoverLimit.String()}

	if !t.Run("pod deleted", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			// The active node's pod: the hardest of the three, as the others
			// must elect a leader too.
			pod, _ := c.active(t, rootToken)
			p, err := c.cs.CoreV1().Pods(c.ns).Get(ctx, pod, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			event(t, "active pod deleted to its replacement and every pod unsealed", map[types.UID]bool{p.UID: true}, func() {
				if err := c.cs.CoreV1().Pods(c.ns).Delete(ctx, pod, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}) {
		return
	}

	if !t.Run("rolling restart", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			event(t, "rolling restart to every pod replaced and unsealed", c.uids(t), func() {
				c.run(t, c.kubectl, "-n", c.ns, "rollout", "restart", "statefulset/"+c.release)
				c.run(t, c.kubectl, rollout...)
			})
		}
	}) {
		return
	}

	if !t.Run("every pod deleted", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			event(t, "every pod deleted at once to every pod replaced and unsealed", c.uids(t), func() {
				if err := c.cs.CoreV1().Pods(c.ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: c.selector()}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}) {
		return
	}

	if !t.Run("helm upgrade", func(t *testing.T) {
		event(t, "helm upgrade to check interval 2s and the app token on, to every pod replaced and unsealed", c.uids(t), func() {
			c.run(t, c.helm, "upgrade", c.release, "../../deploy/helm/vault-init", "-n", c.ns, "--reuse-values",
				"--set", "vaultInit.checkInterval=2s", "--set", "vaultInit.appToken=true")
			c.run(t, c.kubectl, rollout...)
		})
		pods, err := c.pods(ctx)
		if err != nil || len(pods) != c.replicas {
			t.Fatalf("%d pods after the upgrade (%v)", len(pods), err)
		}
		for _, p := range pods {
			env := sidecarEnv(p)
			if env["VAULT_INIT_CHECK_INTERVAL"] != "2s" || env["VAULT_INIT_APP_TOKEN"] != "true" {
				t.Errorf("%s: sidecar env after the upgrade: check interval %q, app token %q", p.Name,
					env["VAULT_INIT_CHECK_INTERVAL"], env["VAULT_INIT_APP_TOKEN"])
			}
		}
		c.checkAppToken(t, pods[0].Name, keysSecret)
	}) {
		return
	}

	if !t.Run("uninstall keeps the keys, a new install reuses them", func(t *testing.T) {
		before, err := c.cs.CoreV1().Secrets(c.ns).Get(ctx, keysSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.run(t, c.helm, "uninstall", c.release, "-n", c.ns, "--wait", "--timeout", "3m")
		c.waitNoPods(t)
		after, err := c.cs.CoreV1().Secrets(c.ns).Get(ctx, keysSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the keys Secret after helm uninstall: %v", err)
		}
		if string(after.Data["init.json"]) != string(before.Data["init.json"]) || len(after.Data["init.json"]) == 0 {
			t.Fatal("helm uninstall changed the keys in the Secret")
		}
		pvcs, err := c.cs.CoreV1().PersistentVolumeClaims(c.ns).List(ctx, metav1.ListOptions{LabelSelector: c.selector()})
		if err != nil || len(pvcs.Items) != c.replicas {
			t.Fatalf("data claims after helm uninstall: %d, %v; want %d kept", len(pvcs.Items), err, c.replicas)
		}

		start := time.Now()
		c.run(t, c.helm, "install", c.release, "../../deploy/helm/vault-init", "-n", c.ns, "-f", values, "--set", "vaultInit.appToken=true")
		figs.add("helm install over the kept Secret and volumes to every pod unsealed", c.waitUnsealed(t, start, nil, recoverLimit))
		invariants(t)
		if n := c.countInBanners(t, initBanner); n != 0 {
			t.Errorf("%d sidecars logged %q after the reinstall: the kept keys were not reused", n, initBanner)
		}
		// Every write of the keys Secret so far (the upgrade's app token
		// among them) was the sidecars', and nobody deleted it.
		c.checkAudit(t, "system:serviceaccount:"+c.ns+":"+c.release, keysSecret)
	}) {
		return
	}

	t.Run("documented removal", func(t *testing.T) {
		// The commands NOTES.txt gives, run as printed: uninstall, then the
		// two deletes that throw Vault away.
		notes := c.run(t, c.helm, "get", "notes", c.release, "-n", c.ns)
		var deletes [][]string
		for _, line := range strings.Split(notes, "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && f[0] == "kubectl" && f[3] == "delete" {
				deletes = append(deletes, f[1:])
			}
		}
		if len(deletes) != 2 {
			t.Fatalf("NOTES.txt gives %d delete commands, want 2 (claims, keys Secret):\n%s", len(deletes), notes)
		}
		c.run(t, c.helm, "uninstall", c.release, "-n", c.ns, "--wait", "--timeout", "3m")
		c.waitNoPods(t)
		if _, err := c.cs.CoreV1().Secrets(c.ns).Get(ctx, keysSecret, metav1.GetOptions{}); err != nil {
			t.Fatalf("the keys Secret is gone before the documented step: %v", err)
		}
		for _, args := range deletes {
			c.run(t, c.kubectl, args...)
		}
		if _, err := c.cs.CoreV1().Secrets(c.ns).Get(ctx, keysSecret, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the keys Secret after the documented removal: %v, want not found", err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			pvcs, err := c.cs.CoreV1().PersistentVolumeClaims(c.ns).List(ctx, metav1.ListOptions{})
			if err == nil && len(pvcs.Items) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("claims left after the documented removal: %v %v", pvcs, err)
			}
			time.Sleep(time.Second)
		}

		// The claims' volumes are released; their data stays on disk under
		// the Retain policy the test's volumes have (a provisioner's Delete
		// policy would remove it with the claims).
		// (The PV controller marks them a moment after the claims go.)
		for _, pv := range pvs {
			deadline := time.Now().Add(time.Minute)
			for {
				v, err := c.cs.CoreV1().PersistentVolumes().Get(ctx, pv, metav1.GetOptions{})
				if err == nil && v.Status.Phase == corev1.VolumeReleased {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("volume %s after the documented removal: %v, want Released", pv, err)
				}
				time.Sleep(time.Second)
			}
		}

		// With no keys Secret and no claims left, a new install starts
		// afresh with no step by hand (on new volumes): one init, a new
		// Vault.
		pvs = append(pvs, c.createVolumes(t, "b")...)
		start := time.Now()
		c.run(t, c.helm, "install", c.release, "../../deploy/helm/vault-init", "-n", c.ns, "-f", values)
		c.waitUnsealed(t, start, nil, recoverLimit)
		states := c.mustStates(t)
		for _, s := range states {
			if s.clusterID == clusterID {
				t.Errorf("%s: the install after the removal is the old Vault (cluster ID %s)", s.pod, clusterID)
			}
		}
		if n := c.countInBanners(t, initBanner); n != 1 {
			t.Errorf("%d sidecars logged %q after the removal, want 1", n, initBanner)
		}
	})
}

// createVolumes makes one hostPath PersistentVolume per replica, in a
// directory under K8S_DIR that Vault's user (100:1000) owns: the test
// cluster has no provisioner, and a hostPath volume gets no fsGroup.
func (c *cluster) createVolumes(t *testing.T, set string) []string {
	t.Helper()
	var names []string
	for i := 0; i < c.replicas; i++ {
		name := fmt.Sprintf("%s-%s%d", c.ns, set, i)
		dir := filepath.Join(c.dir, "pv", name)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 100, 1000); err != nil {
			t.Fatal(err)
		}
		hostPathType := corev1.HostPathDirectory
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              storageName,
				// Only this namespace's claims may bind it.
				ClaimRef: &corev1.ObjectReference{Namespace: c.ns, Name: fmt.Sprintf("data-%s-%d", c.release, i)},
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &hostPathType},
				},
			},
		}
		if _, err := c.cs.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// writeValues writes the install's values: the chart's defaults but for the
// local images (VAULT_IMAGE, VAULT_INIT_IMAGE; never pulled) and the test's
// hostPath volumes.
func (c *cluster) writeValues(t *testing.T) string {
	t.Helper()
	repo := func(env, def string) (string, string) {
		ref := envOr(env, def)
		i := strings.LastIndex(ref, ":")
		return ref[:i], ref[i+1:]
	}
	if os.Getenv("VAULT_INIT_IMAGE") == "" {
		t.Fatal("VAULT_INIT_IMAGE is not set: scripts/test-k8s.sh builds and names the image")
	}
	vr, vt := repo("VAULT_IMAGE", "vault-standin:1.21.0")
	ir, it := repo("VAULT_INIT_IMAGE", "")
	values := fmt.Sprintf(`fullnameOverride: %s
replicas: %d
vault:
  image: {repository: %q, tag: %q, pullPolicy: Never}
vaultInit:
  image: {repository: %q, tag: %q, pullPolicy: Never}
storage:
  storageClass: %s
  size: 1Gi
`, c.release, c.replicas, vr, vt, ir, it, storageName)
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// countInBanners counts the pods whose vault-init log has s.
func (c *cluster) countInBanners(t *testing.T, s string) int {
	t.Helper()
	pods, err := c.pods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pods {
		if strings.Contains(c.run(t, c.kubectl, "-n", c.ns, "logs", p.Name, "-c", "vault-init"), s) {
			n++
		}
	}
	return n
}

func (c *cluster) waitNoPods(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pods, err := c.pods(context.Background())
		if err == nil && len(pods) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods left after helm uninstall: %d, %v", len(pods), err)
		}
		time.Sleep(time.Second)
	}
}

// checkKeysSecret: vault-init made the Secret, labelled as its own, with no
// owner that could garbage-collect it.
func (c *cluster) checkKeysSecret(t *testing.T, name string) {
	t.Helper()
	s, err := c.cs.CoreV1().Secrets(c.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Labels["app.kubernetes.io/managed-by"] != "vault-init" {
		t.Errorf("keys Secret labels %v, want managed-by vault-init", s.Labels)
	}
	if len(s.OwnerReferences) != 0 {
		t.Errorf("keys Secret has owners %v: it would be garbage-collected", s.OwnerReferences)
	}
	if len(s.Data["init.json"]) == 0 {
		t.Errorf("keys Secret has no init.json (keys: %d)", len(s.Data))
	}
}

// checkRaft waits up to 2 minutes for three Raft voters, one per pod, named
// after the pods. A node that joined is a non-voter until autopilot promotes
// it (server_stabilization_time, 10 s by default), so it is polled.
func (c *cluster) checkRaft(t *testing.T, token string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		voters, n, err := c.raftVoters(t, token)
		ok := err == nil && n == c.replicas
		for i := 0; i < c.replicas; i++ {
			ok = ok && voters[fmt.Sprintf("%s-%d", c.release, i)]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("raft after 2m: %d servers, voters %v, error %v; want the %d pods as voters", n, voters, err, c.replicas)
		}
		time.Sleep(time.Second)
	}
}

func (c *cluster) raftVoters(t *testing.T, token string) (map[string]bool, int, error) {
	t.Helper()
	_, v := c.active(t, token)
	sec, err := v.Logical().Read("sys/storage/raft/configuration")
	if err != nil || sec == nil {
		return nil, 0, fmt.Errorf("raft configuration: %v", err)
	}
	cfg, _ := sec.Data["config"].(map[string]any)
	servers, _ := cfg["servers"].([]any)
	voters := map[string]bool{}
	for _, s := range servers {
		m, _ := s.(map[string]any)
		if m["voter"] == true {
			voters[fmt.Sprint(m["node_id"])] = true
		}
	}
	return voters, len(servers), nil
}

// checkCredentials: the only Kubernetes credential in a pod is the token
// the kubelet projects for the chart's service account, in the vault-init
// container alone; the API server (RBAC) lets that account read and update
// the keys Secret, create Secrets, and do nothing else asked here.
func (c *cluster) checkCredentials(t *testing.T, keysSecret string) {
	t.Helper()
	ctx := context.Background()
	pods, err := c.pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != c.replicas {
		t.Fatalf("%d pods, want %d", len(pods), c.replicas)
	}
	admin, err := os.ReadFile(filepath.Join(c.dir, "admin.token"))
	if err != nil || len(strings.TrimSpace(string(admin))) < 16 {
		t.Fatalf("the cluster's admin token: %v", err)
	}
	spec, err := json.Marshal(pods)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(spec), strings.TrimSpace(string(admin))) {
		t.Errorf("the cluster's admin token is in a pod's spec")
	}
	sa := pods[0].Spec.ServiceAccountName
	for _, p := range pods {
		if p.Spec.ServiceAccountName != sa || sa == "" || sa == "default" {
			t.Errorf("%s runs as service account %q", p.Name, p.Spec.ServiceAccountName)
		}
		if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken is not false", p.Name)
		}
		tokenVolumes := map[string]bool{}
		for _, v := range p.Spec.Volumes {
			if v.Secret != nil {
				t.Errorf("%s: volume %s mounts Secret %s", p.Name, v.Name, v.Secret.SecretName)
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.ServiceAccountToken != nil {
						tokenVolumes[v.Name] = true
					}
					if s.Secret != nil {
						t.Errorf("%s: projected volume %s has Secret %s", p.Name, v.Name, s.Secret.Name)
					}
				}
			}
		}
		if len(tokenVolumes) != 1 {
			t.Errorf("%s: %d projected token volumes, want 1", p.Name, len(tokenVolumes))
		}
		for _, ctr := range p.Spec.Containers {
			mounted := false
			for _, m := range ctr.VolumeMounts {
				mounted = mounted || tokenVolumes[m.Name]
			}
			if mounted != (ctr.Name == "vault-init") {
				t.Errorf("%s/%s: token mounted: %v", p.Name, ctr.Name, mounted)
			}
			for _, e := range ctr.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					t.Errorf("%s/%s: env %s from a Secret", p.Name, ctr.Name, e.Name)
				}
			}
			for _, e := range ctr.EnvFrom {
				if e.SecretRef != nil {
					t.Errorf("%s/%s: env from Secret %s", p.Name, ctr.Name, e.SecretRef.Name)
				}
			}
		}
		// Vault's container has no token at the usual path either.
		out, err := c.try(c.kubectl, "-n", c.ns, "exec", p.Name, "-c", "vault", "--", "ls", "/var/run/secrets/kubernetes.io/serviceaccount")
		if err == nil || !strings.Contains(err.Error(), "No such file") {
			t.Errorf("%s/vault: ls of the service account directory: %q, %v; want No such file", p.Name, out, err)
		}
	}

	user := "system:serviceaccount:" + c.ns + ":" + sa
	for _, tc := range []struct {
		verb, resource, name string
		allowed              bool
	}{
		{"get", "secrets", keysSecret, true},
		{"update", "secrets", keysSecret, true},
		{"create", "secrets", "", true},
		{"delete", "secrets", keysSecret, false},
		{"patch", "secrets", keysSecret, false},
		{"list", "secrets", "", false},
		{"watch", "secrets", "", false},
		{"get", "secrets", "sh.helm.release.v1." + c.release + ".v1", false},
		{"get", "pods", "", false},
		{"create", "pods", "", false},
	} {
		r, err := c.cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   user,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + c.ns, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: c.ns, Verb: tc.verb, Resource: tc.resource, Name: tc.name,
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Allowed != tc.allowed {
			t.Errorf("%s may %s %s %q: %v, want %v (%s)", user, tc.verb, tc.resource, tc.name, r.Status.Allowed, tc.allowed, r.Status.Reason)
		}
	}

	c.checkAudit(t, user, keysSecret)

	// No way around RBAC from a pod: the kubelet's API (anonymous in this
	// test cluster) is out of its reach, while the API server is not.
	reach := func(port int) (string, error) {
		return c.try(c.kubectl, "-n", c.ns, "exec", pods[0].Name, "-c", "vault", "--", "sh", "-c",
			fmt.Sprintf("nc -w 2 10.244.0.1 %d </dev/null", port))
	}
	if out, err := reach(6443); err != nil {
		t.Errorf("the API server from a pod: %v %s", err, out)
	}
	if out, err := reach(10250); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("the kubelet's API from a pod: %q, %v; want timed out", out, err)
	}
}

// auditEvent is what test/k8s reads of the API server's audit log
// (audit.k8s.io/v1 Event, one JSON object a line).
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string              `json:"username"`
		Extra    map[string][]string `json:"extra"`
	} `json:"user"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// checkAudit reads the API server's audit log: every successful create,
// update or patch of the keys Secret came from the chart's service account
// (which wrote no other Secret), with a token bound to one of the release's
// pods, as the token the kubelet projects is (the cluster's admin token and
// a token of the account made without a pod are not); there was at least
// one create and one update, and no delete.
func (c *cluster) checkAudit(t *testing.T, user, keysSecret string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.dir, "logs", "audit.log"))
	if err != nil {
		t.Fatalf("the API server's audit log: %v", err)
	}
	writes := map[string]int{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" {
			continue
		}
		var e auditEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit log line: %v", err)
		}
		if e.Stage != "ResponseComplete" || e.ObjectRef == nil || e.ObjectRef.Resource != "secrets" ||
			e.ObjectRef.Namespace != c.ns || (e.Verb != "create" && e.Verb != "update" && e.Verb != "patch" && e.Verb != "delete") ||
			e.ResponseStatus == nil || e.ResponseStatus.Code >= 300 {
			continue
		}
		if e.ObjectRef.Name != keysSecret {
			// Helm's release Secrets, written by the operator (admin).
			if e.User.Username == user {
				t.Errorf("%s wrote secret %q (%s), want only %q", user, e.ObjectRef.Name, e.Verb, keysSecret)
			}
			continue
		}
		pod := e.User.Extra["authentication.kubernetes.io/pod-name"]
		if e.Verb == "delete" {
			t.Errorf("the keys Secret was deleted by %q", e.User.Username)
			continue
		}
		if e.User.Username != user || len(pod) != 1 || !strings.HasPrefix(pod[0], c.release+"-") {
			t.Errorf("%s of the keys Secret by %q (pod %v), want %s with a token bound to a pod of the release",
				e.Verb, e.User.Username, pod, user)
			continue
		}
		writes[e.Verb]++
	}
	if writes["create"] < 1 || writes["update"] < 1 {
		t.Errorf("writes of the keys Secret in the audit log: %v, want a create and an update at least", writes)
	}
	t.Logf("keys Secret writes by %s, each with a pod-bound token: %v", user, writes)
}

// checkAppToken: after the upgrade the active node's sidecar issues the
// application's token, keeps it in the Secret, and it works in the aurora
// mount.
func (c *cluster) checkAppToken(t *testing.T, pod, keysSecret string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	var token string
	for {
		out, err := c.try(c.kubectl, "-n", c.ns, "exec", pod, "-c", "vault-init", "--", "vault-init", "app-token")
		if token = strings.TrimSpace(out); err == nil && token != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vault-init app-token after the upgrade: %v", err)
		}
		time.Sleep(time.Second)
	}
	s, err := c.cs.CoreV1().Secrets(c.ns).Get(ctx, keysSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data["app-token"]) == 0 {
		t.Errorf("the keys Secret has no app-token")
	}
	_, v := c.active(t, token)
	// The policy covers the application's subtree (VAULT_KV_BASE_PATH,
	// default users/) and nothing else.
	if _, err := v.KVv2("aurora").Put(ctx, "users/app-check", map[string]any{"ok": "1"}); err != nil {
		t.Errorf("the app token cannot write in aurora/users/: %v", err)
	}
	if _, err := v.KVv2("aurora").Get(ctx, "k8s-test"); !forbidden(err) {
		t.Errorf("the app token reading aurora/k8s-test, outside users/: %v, want 403", err)
	}
	if _, err := v.Sys().ListMountsWithContext(ctx); !forbidden(err) {
		t.Errorf("the app token listing mounts: %v, want 403: it is not limited to its policy", err)
	}
}

// checkPods: no container of the release's pods has restarted, none of
// their logs holds a key share, the root token or the app token, and the
// client Service reaches an unsealed Vault by its name from inside a pod
// (cluster DNS, kube-proxy).
func (c *cluster) checkPods(t *testing.T, keysSecret string) {
	t.Helper()
	ctx := context.Background()
	pods, err := c.pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.cs.CoreV1().Secrets(c.ns).Get(ctx, keysSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Keys      []string `json:"keys"`
		KeysB64   []string `json:"keys_base64"`
		RootToken string   `json:"root_token"`
	}
	if err := json.Unmarshal(s.Data["init.json"], &stored); err != nil || stored.RootToken == "" || len(stored.Keys) == 0 {
		t.Fatalf("the keys Secret's init.json: %v", err)
	}
	secrets := append(append([]string{stored.RootToken}, stored.Keys...), stored.KeysB64...)
	// The app token, once issued: one line.
	if app := strings.TrimSpace(string(s.Data["app-token"])); app != "" {
		secrets = append(secrets, app)
	}
	for _, p := range pods {
		for _, st := range p.Status.ContainerStatuses {
			if st.RestartCount != 0 {
				t.Errorf("%s/%s restarted %d times", p.Name, st.Name, st.RestartCount)
			}
			logs := c.run(t, c.kubectl, "-n", c.ns, "logs", p.Name, "-c", st.Name)
			for _, sec := range secrets {
				if sec != "" && strings.Contains(logs, sec) {
					t.Errorf("%s/%s: the log holds a key share or a token", p.Name, st.Name)
					break
				}
			}
		}
	}
	if len(pods) > 0 {
		svc := fmt.Sprintf("http://%s:8200", c.release)
		out, err := c.try(c.kubectl, "-n", c.ns, "exec", pods[0].Name, "-c", "vault", "--", "vault", "status", "-address="+svc)
		if err != nil || !regexp.MustCompile(`(?m)^Sealed\s+false$`).MatchString(out) {
			t.Errorf("vault status through the Service %s from %s: %v\n%s", svc, pods[0].Name, err, out)
		}
	}
}

// forbidden: Vault answered 403.
func forbidden(err error) bool {
	var re *vault.ResponseError
	return errors.As(err, &re) && re.StatusCode == 403
}

func sidecarEnv(p corev1.Pod) map[string]string {
	env := map[string]string{}
	for _, ctr := range p.Spec.Containers {
		if ctr.Name == "vault-init" {
			for _, e := range ctr.Env {
				env[e.Name] = e.Value
			}
		}
	}
	return env
}
