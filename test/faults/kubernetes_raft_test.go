//go:build faultinject

package faults

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/k8stest"
	"github.com/aurora/vault-init/internal/keystore"
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
	var pxs []*proxy
	for _, n := range nodes {
		pxs = append(pxs, newProxy(t, n.Addr()))
	}
	start := func() []*proc {
		var procs []*proc
		for i := range nodes {
			procs = append(procs, run(t, pxs[i].addr(), t.TempDir(), env...))
		}
		return procs
	}
	procs := start()
	allUnsealed(t, nodes, 120*time.Second)
	for _, p := range procs {
		for _, px := range pxs {
			p.knows(px.initReplies()...)
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
			p.cmd.Process.Kill()
			<-p.done
		}
		d := restartAll(t, nodes, start, &procs)
		figures.add("full restart of 3 raft pods to all unsealed, kubernetes keystore (a sidecar each)", d)
		k8sTotal += d

		// The file keystore: one vault-init over the three nodes.
		for _, p := range procs {
			p.cmd.Process.Kill()
			<-p.done
		}
		dir := t.TempDir()
		if err := keystore.New(dir).Save(&data); err != nil {
			t.Fatal(err)
		}
		var one []*proc
		d = restartAll(t, nodes, func() []*proc {
			return []*proc{run(t, pxs[0].addr(), dir, "VAULT_INIT_ADDRS="+addrsOf(pxs))}
		}, &one)
		figures.add("full restart of 3 raft nodes to all unsealed, file keystore (one vault-init)", d)
		fileTotal += d
		for _, p := range one {
			p.cmd.Process.Kill()
			<-p.done
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

func addrsOf(pxs []*proxy) string {
	var a []string
	for _, px := range pxs {
		a = append(a, px.addr())
	}
	return strings.Join(a, ",")
}
