package deploy

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// tokenDir is where client-go (rest.InClusterConfig) looks for the API
// token, the cluster's CA and the namespace.
const tokenDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// vaultGroup is the Vault image's group: it owns /vault/data on the PVC.
const vaultGroup = 1000

// TestHelmSecurity: both containers run as non-root users with a read-only
// root and no capability; the API token reaches the vault-init container
// only, and nothing but the pod's own volume puts one there.
func TestHelmSecurity(t *testing.T) {
	forEachValueSet(t, func(t *testing.T, _ valueSet, r rendering) {
		spec := only[*appsv1.StatefulSet](t, r).Spec.Template.Spec
		for name, uid := range map[string]int64{"vault-init": 65532, "vault": 100} {
			sc := container(t, spec, name).SecurityContext
			if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != uid || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
				sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Privileged != nil && *sc.Privileged ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
				t.Errorf("container %s: securityContext %+v", name, sc)
			}
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Error("the pod automounts the API token into every container")
		}
		// Exactly false: unset means true, and a pod of another chart
		// running as this account would get the token in every container.
		if sa := only[*corev1.ServiceAccount](t, r); sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("the ServiceAccount's automountServiceAccountToken is %v, want false", ptrString(sa.AutomountServiceAccountToken))
		}
		for _, c := range spec.Containers {
			mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return strings.HasPrefix(tokenDir, m.MountPath) })
			if mounted != (c.Name == "vault-init") {
				t.Errorf("container %s: API token mounted %v", c.Name, mounted)
			}
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				t.Errorf("volume %s is a hostPath", v.Name)
			}
			if v.Name == "vault-init-data" && v.EmptyDir == nil {
				t.Errorf("vault-init's data dir is not an emptyDir: %+v", v)
			}
		}
	})
}

func ptrString[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// TestHelmFSGroup: vault-init (uid 65532) owns none of the files it reads
// from volumes. The kubelet writes the projected token 0600 as root when
// the pod has an fsGroup and then gives the fsGroup read access to every
// file of the volume; the TLS and age Secrets are mounted 0440 likewise.
// vault-init reads them all as a member of the fsGroup, Vault's group,
// which also owns /vault/data. Without it, vault-init could read neither
// the token nor the CA.
func TestHelmFSGroup(t *testing.T) {
	forEachValueSet(t, func(t *testing.T, _ valueSet, r rendering) {
		spec := only[*appsv1.StatefulSet](t, r).Spec.Template.Spec
		sc := spec.SecurityContext
		if sc == nil || sc.FSGroup == nil || *sc.FSGroup != vaultGroup {
			t.Fatalf("pod securityContext %+v: want fsGroup %d", sc, vaultGroup)
		}
		if g := container(t, spec, "vault").SecurityContext.RunAsGroup; g == nil || *g != vaultGroup {
			t.Errorf("Vault runs as group %v, not the fsGroup %d that owns its data", ptrString(g), vaultGroup)
		}
		for _, m := range container(t, spec, "vault-init").VolumeMounts {
			v := volumeNamed(t, spec, m.Name)
			var mode *int32
			switch {
			case v.Projected != nil:
				mode = v.Projected.DefaultMode
			case v.Secret != nil:
				mode = v.Secret.DefaultMode
			default:
				continue
			}
			if mode == nil || *mode&0o040 == 0 || *mode&0o004 != 0 {
				t.Errorf("volume %s (mounted into vault-init at %s): mode %v, want readable by the fsGroup and not by others",
					v.Name, m.MountPath, ptrString(mode))
			}
		}
	})
}

// volumeNamed returns the pod's volume name, failing when there is none.
func volumeNamed(t *testing.T, spec corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q in the pod", name)
	return corev1.Volume{}
}

// TestHelmProjectedToken: the vault-init container, and it alone, gets what
// automountServiceAccountToken would give every container: at tokenDir the
// files token, ca.crt and namespace, and nothing else.
func TestHelmProjectedToken(t *testing.T) {
	forEachValueSet(t, func(t *testing.T, _ valueSet, r rendering) {
		spec := only[*appsv1.StatefulSet](t, r).Spec.Template.Spec
		var volName string
		for _, c := range spec.Containers {
			for _, m := range c.VolumeMounts {
				if m.MountPath != tokenDir {
					continue
				}
				if c.Name != "vault-init" {
					t.Errorf("container %s mounts %s", c.Name, tokenDir)
					continue
				}
				if !m.ReadOnly || m.SubPath != "" {
					t.Errorf("vault-init mounts %s read-only %v, subPath %q", tokenDir, m.ReadOnly, m.SubPath)
				}
				volName = m.Name
			}
		}
		if volName == "" {
			t.Fatalf("vault-init mounts nothing at %s", tokenDir)
		}
		for _, c := range spec.Containers {
			if c.Name != "vault-init" && slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == volName }) {
				t.Errorf("container %s mounts the token volume %s too", c.Name, volName)
			}
		}
		v := volumeNamed(t, spec, volName)
		if v.Projected == nil {
			t.Fatalf("volume %s is not projected: %+v", volName, v)
		}
		got := map[string]string{}
		for _, s := range v.Projected.Sources {
			switch {
			case s.ServiceAccountToken != nil:
				got[s.ServiceAccountToken.Path] = "serviceAccountToken audience=" + s.ServiceAccountToken.Audience
				if e := s.ServiceAccountToken.ExpirationSeconds; e == nil || *e < 600 {
					t.Errorf("token expirationSeconds %v: the apiserver refuses less than 600", ptrString(e))
				}
			case s.ConfigMap != nil:
				for _, it := range s.ConfigMap.Items {
					got[it.Path] = "configMap " + s.ConfigMap.Name + " " + it.Key
				}
				if len(s.ConfigMap.Items) == 0 {
					got["*"] = "all of configMap " + s.ConfigMap.Name
				}
			case s.DownwardAPI != nil:
				for _, it := range s.DownwardAPI.Items {
					if it.FieldRef != nil {
						got[it.Path] = "fieldRef " + it.FieldRef.FieldPath
					} else {
						got[it.Path] = "downwardAPI"
					}
				}
			default:
				got["?"] = "another source"
			}
		}
		want := map[string]string{
			"token":     "serviceAccountToken audience=",
			"ca.crt":    "configMap kube-root-ca.crt ca.crt",
			"namespace": "fieldRef metadata.namespace",
		}
		if !mapsEqual(got, want) {
			t.Errorf("%s holds %v, want %v", tokenDir, got, want)
		}
	})
}
