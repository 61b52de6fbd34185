package watch_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaultclient"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch"
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
	client, err := vaultclient.New(config.Config{VaultAddr: srv.Addr()}, srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	out := blockedWriter{release: make(chan struct{})}
	w := watch.New(watch.Options{Nodes: []string{srv.Addr()}, KVMount: "aurora", SecretShares: 1, SecretThreshold: 1,
		RecoveryShares: 1, RecoveryThreshold: 1, CheckInterval: interval},
		[]*api.Client{client}, keystore.New(t.TempDir()), zap.NewNop(), out, &vaulttest.Buffer{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		close(out.release)
		cancel()
		<-done
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
