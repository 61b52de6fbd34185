package bench

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

func quantiles(d []time.Duration) (p50, p95, max time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[(len(d)*95+99)/100-1], d[len(d)-1]
}

// BenchmarkReseal: how long Vault stays sealed after sys/seal, and after a
// restart (from its listener accepting again), at the default 1 s check
// interval, over 30 of each. Goals: p95 ≤ 1.2 × the interval after sys/seal;
// at most 200 ms after a restart.
func BenchmarkReseal(b *testing.B) {
	const n = 30
	srv := vaulttest.Start(b, vaulttest.Options{})
	dir, stop := startWatcher(b, []*vaulttest.Server{srv}, time.Second)
	defer stop()
	allUnsealed(b, []*vaulttest.Server{srv}, 60*time.Second)
	d, err := keystore.New(dir).Load()
	if err != nil {
		b.Fatal(err)
	}
	var seal, restart []time.Duration
	for i := 0; i < n*b.N; i++ {
		if err := srv.Client(d.RootToken).Sys().SealWithContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		allUnsealed(b, []*vaulttest.Server{srv}, 30*time.Second)
		seal = append(seal, time.Since(start))
		// Let the watcher settle into its healthy rhythm at a random phase.
		time.Sleep(time.Duration(300+i*37%700) * time.Millisecond)
	}
	for i := 0; i < n*b.N; i++ {
		srv.Kill()
		time.Sleep(time.Duration(200+i*53%800) * time.Millisecond) // down for a while, as in a restart
		srv.Restart()                                              // returns once the listener accepts connections
		start := time.Now()
		allUnsealed(b, []*vaulttest.Server{srv}, 30*time.Second)
		restart = append(restart, time.Since(start))
	}
	// The reference: no vault-init, a client that polls every 5 ms and
	// submits the keys the moment Vault answers. That is the physical limit.
	stop()
	var ref []time.Duration
	c := srv.Client("")
	for i := 0; i < n*b.N; i++ {
		srv.Kill()
		time.Sleep(time.Duration(200+i*53%800) * time.Millisecond)
		srv.Restart()
		start := time.Now()
		for {
			st, err := c.Sys().SealStatusWithContext(context.Background())
			if err == nil && !st.Sealed {
				break
			}
			if err == nil {
				for _, k := range d.Keys[:3] {
					c.Sys().UnsealWithContext(context.Background(), k)
				}
				continue
			}
			time.Sleep(5 * time.Millisecond)
		}
		ref = append(ref, time.Since(start))
	}
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"after sys/seal", seal}, {"after a Vault restart (from its listener accepting)", restart},
		{"after a Vault restart, reference client unsealing at once (no vault-init)", ref}} {
		p50, p95, max := quantiles(s.d)
		recordValue(fmt.Sprintf("sealed %s, check interval 1s (n=%d)", s.name, len(s.d)),
			fmt.Sprintf("p50 %v, p95 %v, max %v", p50.Round(time.Millisecond), p95.Round(time.Millisecond), max.Round(time.Millisecond)))
	}
	_, p95, _ := quantiles(seal)
	recordRatio("p95 after sys/seal / check interval (goal ≤ 1.2)", p95.Seconds()/1.0)
}
