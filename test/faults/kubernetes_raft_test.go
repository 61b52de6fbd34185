//go:build faultinject

package faults

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/k8stest"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestKubernetesRaftCluster is the chart's deployment on loopback: three
// Vault processes on Raft, joining each other by retry_join as the pods of
// the StatefulSet do, and beside each one a vault-init configured as the
// chart configures its sidecar (its own Vault, the kubernetes keystore, the
// chart's Role). One sys/init, every node unsealed, the keys in the Secret,
// the aurora mount in place; and after a full restart of the three "pods"
// (Vaults and sidecars), every node unsealed again.
//
// The same restart is then timed with the file keystore on the same
// cluster (one vault-init watching the three nodes, as the compose HA stack
// runs it): the two times and their ratio are figures.
func TestKubernetesRaftCluster(t *testing.T) {
	k := k8stest.Start(t)
	ns := k.NewNamespace(t)
	env := sidecarEnv(t, k, ns)
	nodes := vaulttest.Cluster(t, 3, 3)
	var pxs []*testkit.Proxy
	for _, n := range nodes {
		pxs = append(pxs, testkit.NewProxy(t, n.Addr()))
	}
	start := func() []*proc {
		var procs []*proc
		for i := range nodes {
			procs = append(procs, run(t, pxs[i].Addr(), t.TempDir(), append(env, "VAULT_INIT_PEERS="+addrsOf(pxs))...))
		}
		return procs
	}
	procs := start()
	allUnsealed(t, nodes, 120*time.Second)
	for _, p := range procs {
		for _, px := range pxs {
			p.Knows(px.InitReplies()...)
		}
	}
	if n := totalInits(pxs); n != 1 {
		t.Fatalf("%d sys/init calls over the three nodes, want exactly 1", n)
	}
	s := secretOf(t, k, ns)
	if s == nil {
		t.Fatal("no keys Secret")
	}
	var data keystore.InitData
	if err := json.Unmarshal(s.Data[keystore.FileName], &data); err != nil || data.Validate() != nil {
		t.Fatalf("the Secret's init.json: %v, %v", err, data.Validate())
	}
	waitAny(t, procs, "vault is ready", 60*time.Second) // the active node's sidecar set up the mount
	// The banner names where the root token is; no log line holds it (pod
	// logs reach the cluster's log collector).
	banners := 0
	for _, p := range procs {
		out := p.Stdout.String()
		if strings.Contains(out, data.RootToken) {
			t.Fatalf("the root token is in a sidecar's stdout (its pod log):\n%s", out)
		}
		if strings.Contains(out, "Root Token: kept in secret "+ns+"/"+keysSecret) && strings.Contains(out, "vault-init root-token") {
			banners++
		}
	}
	if banners != 1 {
		t.Fatalf("%d banners naming the Secret, want 1 (the initializing sidecar's)", banners)
	}
	mounts, err := nodes[0].Client(data.RootToken).Sys().ListMounts()
	if err != nil || mounts["aurora/"] == nil || mounts["aurora/"].Options["version"] != "2" {
		t.Fatalf("aurora mount: %v, %v", mounts["aurora/"], err)
	}

	rounds := 1
	if !testing.Short() {
		rounds = 3
	}
	var k8sTotal, fileTotal time.Duration
	for range rounds {
		// Kubernetes: every pod restarts, sidecars included.
		for _, p := range procs {
			p.Kill()
		}
		d := restartAll(t, nodes, start, &procs)
		figures.add("full restart of 3 raft pods to all unsealed, kubernetes keystore (a sidecar each)", d)
		k8sTotal += d

		// The file keystore: one vault-init over the three nodes.
		for _, p := range procs {
			p.Kill()
		}
		dir := t.TempDir()
		if err := keystore.New(dir).Save(&data); err != nil {
			t.Fatal(err)
		}
		var one []*proc
		d = restartAll(t, nodes, func() []*proc {
			return []*proc{run(t, pxs[0].Addr(), dir, "VAULT_INIT_ADDRS="+addrsOf(pxs))}
		}, &one)
		figures.add("full restart of 3 raft nodes to all unsealed, file keystore (one vault-init)", d)
		fileTotal += d
		for _, p := range one {
			p.Kill()
		}
		procs = start()
		allUnsealed(t, nodes, 120*time.Second)
	}
	figures.rate("full restart to all unsealed, kubernetes keystore / file keystore", float64(k8sTotal)/float64(fileTotal))
	if n := totalInits(pxs); n != 1 {
		t.Fatalf("%d sys/init calls after the restarts, want exactly 1", n)
	}
}

// restartAll stops every node, starts them all again with start's
// vault-init processes (stored in procs), and returns the time from the
// start of the nodes until every one is unsealed.
func restartAll(t *testing.T, nodes []*vaulttest.Server, start func() []*proc, procs *[]*proc) time.Duration {
	t.Helper()
	for _, n := range nodes {
		n.Stop()
	}
	begin := time.Now()
	for _, n := range nodes {
		n.Restart()
	}
	*procs = start()
	allUnsealed(t, nodes, 120*time.Second)
	return time.Since(begin)
}

// allUnsealed waits until every node is initialized and unsealed.
func allUnsealed(t *testing.T, nodes []*vaulttest.Server, timeout time.Duration) {
	t.Helper()
	for _, n := range nodes {
		n.WaitFor("unsealed", timeout, vaulttest.Unsealed)
	}
}

func addrsOf(pxs []*testkit.Proxy) string {
	var a []string
	for _, px := range pxs {
		a = append(a, px.Addr())
	}
	return strings.Join(a, ",")
}

// TestKubernetesSecretDeleted: the keys Secret is deleted while the
// sidecars run (a namespace cleanup, a restore, LESSONS 12). The sidecars
// raise the alarm and keep their nodes unsealed from memory; a new node
// whose sidecar finds no keys (a scale-up) does not initialize a second
// cluster, because its peers say they are initialized; and the Secret is
// not recreated with other keys.
func TestKubernetesSecretDeleted(t *testing.T) {
	k := k8stest.Start(t)
	ns := k.NewNamespace(t)
	env := sidecarEnv(t, k, ns)
	nodes := vaulttest.Cluster(t, 3, 3)
	// The new pod's Vault: one that cannot reach the cluster yet (its
	// retry_join names do not resolve yet, say), so it stays uninitialized
	// as long as nobody initializes it.
	newVault := vaulttest.Start(t, vaulttest.Options{})
	var pxs []*testkit.Proxy
	for _, n := range append(nodes, newVault) {
		pxs = append(pxs, testkit.NewProxy(t, n.Addr()))
	}
	env = append(env, "VAULT_INIT_PEERS="+addrsOf(pxs))
	var procs []*proc
	for i := range 3 {
		procs = append(procs, run(t, pxs[i].Addr(), t.TempDir(), env...))
	}
	allUnsealed(t, nodes[:3], 120*time.Second)
	for _, p := range procs {
		for _, px := range pxs {
			p.Knows(px.InitReplies()...)
		}
	}
	if err := k.Core(t).Secrets(ns).Delete(t.Context(), keysSecret, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A standby restarts: its sidecar unseals it with the keys in memory.
	nodes[2].Stop()
	nodes[2].Restart()
	procs[2].WaitFor("keystore has disappeared", 30*time.Second)
	nodes[2].WaitFor("unsealed from memory", 60*time.Second, vaulttest.Unsealed)

	// A new pod's sidecar: no keys anywhere it can read.
	fresh := run(t, pxs[3].Addr(), t.TempDir(), env...)
	for _, px := range pxs {
		fresh.Knows(px.InitReplies()...)
	}
	// It decides within a few checks: it waits for its peers, or (the
	// defect this guards against) initializes its own node.
	deadline := time.Now().Add(30 * time.Second)
	for out := ""; !strings.Contains(out, "a peer is initialized") && !strings.Contains(out, "vault initialized"); out = fresh.Stderr.String() {
		if time.Now().After(deadline) {
			t.Fatalf("the new node's vault-init decided nothing within 30s:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // more chances to go wrong
	if n := totalInits(pxs); n != 1 {
		t.Fatalf("%d sys/init calls, want exactly 1: a second cluster was made", n)
	}
	if s := secretOf(t, k, ns); s != nil && len(s.Data) != 0 {
		t.Fatalf("the Secret came back with keys nobody restored: %v", s.Data)
	}
}
