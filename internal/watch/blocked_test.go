package watch_test

import (
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// blockedWriter is a stdout nobody reads: every write waits until release.
type blockedWriter struct{ release chan struct{} }

func (b blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

// TestBannerOnABlockedStdout: the banner is written without holding the
// Watcher's lock, so a stdout that blocks (a full pipe, a stopped log
// reader) stalls neither Ready (the /readyz handler) nor the other nodes.
func TestBannerOnABlockedStdout(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	out := blockedWriter{release: make(chan struct{})}
	w := watchtest.Start(t, watchtest.Options{Nodes: []string{srv.Addr()}, Shares: 1, Threshold: 1, Out: out})
	defer func() {
		close(out.release)
		w.Stop()
	}()
	// Vault is initialized and unsealed and its mount made before the banner
	// is written; Ready must say so while the banner waits on stdout.
	for deadline := time.Now().Add(60 * time.Second); ; {
		ready := make(chan bool, 1)
		go func() { ready <- w.Ready() }()
		select {
		case ok := <-ready:
			if ok {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Ready did not answer for 10s while the banner waited on stdout")
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
