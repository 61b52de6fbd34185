package deploy

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// peersOf returns the addresses in a container's VAULT_INIT_PEERS.
func peersOf(t *testing.T, c corev1.Container) []string {
	t.Helper()
	return strings.Split(envOf(t, c, "VAULT_INIT_PEERS"), ",")
}

// TestHelmPeersMatchRetryJoin: VAULT_INIT_PEERS names every replica, by the
// same scheme and names as retry_join. A replica left out is a node whose
// initialized Vault would not stop a sidecar that lost the keys Secret from
// starting a second cluster.
func TestHelmPeersMatchRetryJoin(t *testing.T) {
	check := func(t *testing.T, scheme string, r rendering) {
		sts := only[*appsv1.StatefulSet](t, r)
		_, joins := retryJoinAddrs(t, only[*corev1.ConfigMap](t, r).Data["vault.hcl"])
		peers := peersOf(t, sidecar(t, sts))
		if want := nodeAddrs(scheme, sts.Name, releaseNS, int(*sts.Spec.Replicas)); !slices.Equal(peers, want) {
			t.Errorf("VAULT_INIT_PEERS %v, want every replica: %v", peers, want)
		}
		if !slices.Equal(peers, joins) {
			t.Errorf("VAULT_INIT_PEERS %v, retry_join %v: not the same addresses", peers, joins)
		}
	}
	forEachValueSet(t, func(t *testing.T, vs valueSet, r rendering) {
		scheme := "http"
		if vs.name == "tls" {
			scheme = "https"
		}
		check(t, scheme, r)
	})
	for _, n := range []int{1, 2, 7} {
		t.Run(fmt.Sprint(n, " replicas"), func(t *testing.T) {
			check(t, "http", mustRender(t, map[string]any{"replicas": n}))
		})
	}
}

// TestOfficialSnippetPeers: the official chart's snippet cannot template
// the sidecar (server.extraContainers is copied as it is), so its
// VAULT_INIT_PEERS spells out the addresses: one per replica of
// server.ha.replicas, by the scheme and names of its retry_join template
// for the release `vault`; a comment says to keep the two in step.
func TestOfficialSnippetPeers(t *testing.T) {
	vals := readValues(t, officialValues)
	containers, _ := officialPodParts(t, vals)
	peers := peersOf(t, container(t, corev1.PodSpec{Containers: containers}, "vault-init"))
	ha := vals["server"].(map[string]any)["ha"].(map[string]any)
	replicas, ok := ha["replicas"].(float64)
	if !ok {
		t.Fatalf("server.ha.replicas is %v, not a number", ha["replicas"])
	}
	config, _ := ha["raft"].(map[string]any)["config"].(string)
	m := regexp.MustCompile(`(?m)leader_api_addr\s*=\s*"(.*)"\s*$`).FindStringSubmatch(config)
	if m == nil {
		t.Fatalf("no leader_api_addr in server.ha.raft.config:\n%s", config)
	}
	var want []string
	for i := range int(replicas) {
		want = append(want, strings.NewReplacer(`{{ template "vault.fullname" $ }}`, officialRelease, "{{ $i }}", fmt.Sprint(i)).Replace(m[1]))
	}
	if !slices.Equal(peers, want) {
		t.Errorf("the snippet's VAULT_INIT_PEERS %v, want retry_join's addresses for %d replicas of release %s: %v",
			peers, int(replicas), officialRelease, want)
	}
	if strings.Contains(strings.Join(want, ","), "{{") {
		t.Errorf("retry_join's template %q uses names this test does not know: compare it with VAULT_INIT_PEERS by hand", m[1])
	}
	raw, err := os.ReadFile(officialValues)
	if err != nil {
		t.Fatal(err)
	}
	if c := commentAbove(string(raw), "- name: VAULT_INIT_PEERS"); !strings.Contains(c, "server.ha.replicas") {
		t.Errorf("no comment above VAULT_INIT_PEERS says to keep it in step with server.ha.replicas (comment: %q)", c)
	}
}

// commentAbove returns the comment lines right above the first line of text
// that is line (trimmed), joined by spaces.
func commentAbove(text, line string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != line {
			continue
		}
		var c []string
		for j := i - 1; j >= 0 && strings.HasPrefix(strings.TrimSpace(lines[j]), "#"); j-- {
			c = append([]string{strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[j]), "#"))}, c...)
		}
		return strings.Join(c, " ")
	}
	return ""
}
