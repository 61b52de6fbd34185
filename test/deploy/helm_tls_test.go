package deploy

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// tlsVals turns TLS on with the Secret vault-tls.
var tlsVals = map[string]any{"tls": map[string]any{"secretName": "vault-tls"}}

// certNames returns the names values.yaml's comment on tls says the
// certificate must hold (`<fullname>...` in backquotes), for fullname and
// namespace ns.
func certNames(t *testing.T, ns string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	i := slices.Index(lines, "tls:")
	if i < 0 {
		t.Fatal("values.yaml has no tls section")
	}
	var comment string
	for j := i - 1; j >= 0 && strings.HasPrefix(lines[j], "#"); j-- {
		comment = lines[j] + "\n" + comment
	}
	var names []string
	for _, m := range regexp.MustCompile("`([^`]*<fullname>[^`]*)`").FindAllStringSubmatch(comment, -1) {
		names = append(names, strings.NewReplacer("<fullname>", fullname, "<ns>", ns).Replace(m[1]))
	}
	return names
}

// covers says whether the certificate name pattern (a leading "*." stands
// for one label) matches host.
func covers(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, tail, found := strings.Cut(host, ".")
		return found && label != "" && tail == rest
	}
	return pattern == host
}

// TestHelmTLSNames: the comment on tls in values.yaml lists the names the
// certificate needs, and they cover every name under which the chart's
// pods, and the clients the chart points at, verify it: retry_join's
// servers, the api_addr a standby sends clients to, vault-init's and the
// Vault CLI's tls.serverName (also for VAULT_INIT_PEERS: vault-init checks
// every node under that name), the client service in NOTES.txt. The
// cluster port (8201) is left out: Vault secures it with its own
// certificates.
func TestHelmTLSNames(t *testing.T) {
	names := certNames(t, releaseNS)
	for _, want := range []string{fullname, fullname + "." + releaseNS + ".svc", "*." + fullname + "-internal",
		"*." + fullname + "-internal." + releaseNS + ".svc"} {
		if !slices.Contains(names, want) {
			t.Errorf("values.yaml's comment on tls does not list %s among the certificate's names (it lists %v)", want, names)
		}
	}
	r := mustRender(t, tlsVals)
	sts := only[*appsv1.StatefulSet](t, r)
	spec := sts.Spec.Template.Spec
	used := map[string]string{}
	host := func(what, addr string) {
		u, err := url.Parse(addr)
		if err != nil || u.Scheme != "https" {
			t.Errorf("%s %q: not an https address", what, addr)
			return
		}
		used[u.Hostname()] = what
	}
	_, joins := retryJoins(t, only[*corev1.ConfigMap](t, r).Data["vault.hcl"])
	for _, j := range joins {
		addr, _ := j["leader_api_addr"].(string)
		host("retry_join leader_api_addr", addr)
		if sn, _ := j["leader_tls_servername"].(string); sn != "" {
			used[sn] = "retry_join leader_tls_servername"
		}
	}
	for i := range int(*sts.Spec.Replicas) {
		pod := strings.NewReplacer("$(POD_NAME)", fmt.Sprintf("%s-%d", sts.Name, i))
		host("VAULT_API_ADDR", pod.Replace(envOf(t, container(t, spec, "vault"), "VAULT_API_ADDR")))
	}
	for _, c := range spec.Containers {
		used[envOf(t, c, "VAULT_TLS_SERVER_NAME")] = c.Name + " VAULT_TLS_SERVER_NAME"
	}
	m := regexp.MustCompile(`Vault's address inside the cluster: (\S+)`).FindStringSubmatch(r.notes)
	if m == nil {
		t.Fatalf("NOTES.txt gives no address:\n%s", r.notes)
	}
	host("NOTES.txt's address", m[1])
	for h, what := range used {
		if !slices.ContainsFunc(names, func(p string) bool { return covers(p, h) }) {
			t.Errorf("%s uses the name %s, which none of the certificate names in values.yaml (%v) covers", what, h, names)
		}
	}
}

// tlsFiles returns the keys of Secret secret that volume v holds, by file
// path ("*" for all of them); nil when v holds nothing of it.
func tlsFiles(v corev1.Volume, secret string) map[string]string {
	files := map[string]string{}
	add := func(items []corev1.KeyToPath) {
		for _, it := range items {
			files[it.Path] = it.Key
		}
		if len(items) == 0 {
			files["*"] = "*"
		}
	}
	if v.Secret != nil && v.Secret.SecretName == secret {
		add(v.Secret.Items)
	}
	if v.Projected != nil {
		for _, s := range v.Projected.Sources {
			if s.Secret != nil && s.Secret.Name == secret {
				add(s.Secret.Items)
			}
		}
	}
	if len(files) == 0 {
		return nil
	}
	return files
}

// TestHelmSidecarGetsOnlyTheCA: vault-init verifies Vault and needs the CA
// alone; tls.key (Vault's private key) stays in Vault's container. Vault's
// container mounts the whole Secret.
func TestHelmSidecarGetsOnlyTheCA(t *testing.T) {
	spec := only[*appsv1.StatefulSet](t, mustRender(t, tlsVals)).Spec.Template.Spec
	mounts := func(name string) (files map[string]string, paths []string) {
		files = map[string]string{}
		c := container(t, spec, name)
		for _, m := range c.VolumeMounts {
			i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
			if i < 0 {
				continue // a volumeClaimTemplate's
			}
			f := tlsFiles(spec.Volumes[i], "vault-tls")
			if f == nil {
				continue
			}
			if !m.ReadOnly {
				t.Errorf("%s mounts the TLS Secret (volume %s) writable", name, m.Name)
			}
			for p, k := range f {
				files[p] = k
				paths = append(paths, m.MountPath+"/"+p)
			}
		}
		return files, paths
	}
	files, paths := mounts("vault-init")
	if want := map[string]string{"ca.crt": "ca.crt"}; !mapsEqual(files, want) {
		t.Errorf("vault-init gets %v of the TLS Secret, want only %v", files, want)
	}
	if cacert := envOf(t, container(t, spec, "vault-init"), "VAULT_CACERT"); !slices.Contains(paths, cacert) {
		t.Errorf("vault-init's VAULT_CACERT %s is not the CA it mounts (%v)", cacert, paths)
	}
	if files, paths := mounts("vault"); !mapsEqual(files, map[string]string{"*": "*"}) || !slices.Equal(paths, []string{"/vault/tls/*"}) {
		t.Errorf("Vault's container gets %v of the TLS Secret at %v, want all of it at /vault/tls", files, paths)
	}
}
