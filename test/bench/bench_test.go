// Package bench measures vault-init against real `vault server` processes.
// Every figure is a benchmark metric (never a pass/fail test), and each goal
// is a ratio of two figures measured in the same run, because absolute times
// on a shared machine drift. `make bench` runs them and writes BENCHMARKS.md.
package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// startWatcher runs vault-init (in this process) over the nodes, through
// the watch tests' harness (quiet: info-level logs).
func startWatcher(tb testing.TB, nodes []*vaulttest.Server, interval time.Duration) (dataDir string, stop func()) {
	tb.Helper()
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr())
	}
	w := watchtest.Start(tb, watchtest.Options{Nodes: addrs, Interval: interval, Quiet: true})
	return w.DataDir, func() { w.Stop() }
}

// allUnsealed polls every node until all are initialized and unsealed.
func allUnsealed(tb testing.TB, nodes []*vaulttest.Server, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok := true
		for _, n := range nodes {
			h, err := n.Client("").Sys().HealthWithContext(context.Background())
			ok = ok && err == nil && h.Initialized && !h.Sealed
		}
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("not all %d nodes unsealed within %v", len(nodes), timeout)
}

// restartAll kills every node and starts them again at once; it returns
// when all listeners accept connections.
func restartAll(nodes []*vaulttest.Server) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		n.Kill()
	}
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Restart() }()
	}
	wg.Wait()
}

// BenchmarkUnsealNodes: the time from "every node answering, sealed" (all
// restarted) to "every node unsealed", for 1, 3 and 5 Raft nodes, at the
// default check interval. Goal: 5 nodes at most 1.5 × 1 node.
func BenchmarkUnsealNodes(b *testing.B) {
	const rounds = 15
	results, refs := map[int]time.Duration{}, map[int]time.Duration{}
	for _, size := range []int{1, 3, 5} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			nodes := vaulttest.Cluster(b, size, size)
			dataDir, stop := startWatcher(b, nodes, time.Second)
			allUnsealed(b, nodes, 120*time.Second)
			var took []time.Duration
			for i := 0; i < rounds*b.N; i++ {
				restartAll(nodes)
				start := time.Now()
				allUnsealed(b, nodes, 120*time.Second)
				took = append(took, time.Since(start))
			}
			stop()
			// The reference: no vault-init, one client per node that polls
			// every 5 ms and submits the keys the moment its node answers.
			// Five Vaults unsealing at once on this machine's cores is the
			// physical limit that vault-init is held against.
			d, err := keystore.New(dataDir).Load()
			if err != nil {
				b.Fatal(err)
			}
			var ref []time.Duration
			for i := 0; i < rounds*b.N; i++ {
				restartAll(nodes)
				start := time.Now()
				var wg sync.WaitGroup
				for _, n := range nodes {
					wg.Add(1)
					go func() { defer wg.Done(); referenceUnseal(n, d.Keys[:d.SecretThreshold]) }()
				}
				wg.Wait()
				allUnsealed(b, nodes, 120*time.Second)
				ref = append(ref, time.Since(start))
			}
			p50 := func(d []time.Duration) time.Duration {
				sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
				return d[len(d)/2]
			}
			results[size], refs[size] = p50(took), p50(ref)
			b.ReportMetric(float64(results[size].Milliseconds()), "ms-p50")
			b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "ms-max")
			record(fmt.Sprintf("unseal %d Raft nodes after a full restart (p50 of %d, check interval 1s)", size, len(took)), results[size])
			record(fmt.Sprintf("unseal %d Raft nodes after a full restart, reference client unsealing at once (p50 of %d)", size, len(ref)), refs[size])
		})
	}
	if results[1] > 0 && refs[1] > 0 {
		recordRatio("5 nodes / 1 node (goal ≤ 1.5)", float64(results[5])/float64(results[1]))
		recordRatio("5 nodes / 1 node, reference client", float64(refs[5])/float64(refs[1]))
	}
}

// referenceUnseal polls n every 5 ms and submits keys as soon as it
// answers sealed, until it is unsealed.
func referenceUnseal(n *vaulttest.Server, keys []string) {
	c := n.Client("")
	ctx := context.Background()
	for {
		st, err := c.Sys().SealStatusWithContext(ctx)
		if err == nil && !st.Sealed {
			return
		}
		if err == nil {
			for _, k := range keys {
				if st, err := c.Sys().UnsealWithContext(ctx, k); err != nil || !st.Sealed {
					break
				}
			}
			continue
		}
		time.Sleep(5 * time.Millisecond)
	}
}
