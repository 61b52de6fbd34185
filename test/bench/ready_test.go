package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// readyAt runs vault-init in this process against srv and returns how long
// after start it was ready (the Ready event, sent with "vault is ready").
// It is stopped before it returns.
func readyAt(b *testing.B, srv *vaulttest.Server) time.Duration {
	b.Helper()
	w := watchtest.Start(b, watchtest.Options{Nodes: []string{srv.Addr()}, Interval: time.Second, Quiet: true})
	defer w.Stop()
	e := w.Wait("ready", 60*time.Second, events.Is(events.Ready, ""))
	return e.Time.Sub(w.Started)
}

// reference makes the same essential calls back to back, with no checks
// and no waiting: init, save the reply durably, unseal, mount. It is the
// physical limit that vault-init is measured against.
func reference(b *testing.B, srv *vaulttest.Server) time.Duration {
	b.Helper()
	ctx := context.Background()
	c := srv.Client("")
	dir := b.TempDir()
	start := time.Now()
	resp, err := c.Sys().InitWithContext(ctx, &api.InitRequest{SecretShares: 5, SecretThreshold: 3})
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(resp)
	f, err := os.CreateTemp(dir, "init-")
	if err != nil {
		b.Fatal(err)
	}
	f.Write(raw)
	f.Sync()
	f.Close()
	os.Rename(f.Name(), filepath.Join(dir, "init.json"))
	for _, k := range resp.Keys[:3] {
		if _, err := c.Sys().UnsealWithContext(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	c.SetToken(resp.RootToken)
	for {
		// Right after the unseal the node may still be becoming active.
		err = c.Sys().MountWithContext(ctx, "aurora", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "503") {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkTimeToReady: from a fresh Vault's listener accepting connections
// to initialized, keys saved, unsealed and mount in place. Goal: vault-init
// within 1.15 × the reference client, measured in the same run.
func BenchmarkTimeToReady(b *testing.B) {
	const rounds = 31
	var vi, ref []time.Duration
	for i := 0; i < rounds*b.N; i++ {
		// Alternate, so drift in the machine's speed hits both alike.
		ref = append(ref, reference(b, vaulttest.Start(b, vaulttest.Options{})))
		vi = append(vi, readyAt(b, vaulttest.Start(b, vaulttest.Options{})))
	}
	// Each vault-init run is paired with the reference run just before it,
	// on a Vault started the same way a moment earlier: the p50 of the
	// paired ratios is less sensitive to Vault's own init time, which
	// varies by tens of percent from one fresh Vault to the next.
	var ratios []float64
	for i := range vi {
		ratios = append(ratios, float64(vi[i])/float64(ref[i]))
	}
	sort.Float64s(ratios)
	p50 := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	v, r := p50(vi), p50(ref)
	b.ReportMetric(float64(v.Microseconds())/1000, "ms-vault-init")
	b.ReportMetric(float64(r.Microseconds())/1000, "ms-reference")
	record("time to ready, vault-init (p50 of 31)", v)
	record("time to ready, reference client making the same calls back to back (p50 of 31)", r)
	recordRatio("vault-init p50 / reference p50", float64(v)/float64(r))
	recordRatio("vault-init / reference, p50 of the 31 paired ratios (goal ≤ 1.15)", ratios[len(ratios)/2])
	b.ReportMetric(ratios[len(ratios)/2], "paired-ratio")
}
