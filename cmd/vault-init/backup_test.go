package main_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// Secrets for TestBackupLargeRaftVault: 40 of 256 KiB of random bytes
// (incompressible, and below Raft's 1 MiB entry limit once base64-encoded)
// make 10 MiB of secrets, well past the 4 MiB cap on ordinary replies.
const (
	bigSecrets    = 40
	bigSecretSize = 256 << 10
)

// TestBackupLargeRaftVault: a Raft Vault holding more than 8 MB of secrets
// is backed up with `vault-init backup FILE`, and the snapshot restored
// into a fresh Raft Vault that was initialized apart. That Vault then
// unseals with the original keys and serves the original secrets.
func TestBackupLargeRaftVault(t *testing.T) {
	ctx := context.Background()
	nodes := vaulttest.Cluster(t, 1, 1)
	dataDir := t.TempDir()
	env := []string{"VAULT_ADDR=" + nodes[0].Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
	if code, _, errOut := runCmd(t, env, "--once"); code != 0 {
		t.Fatalf("--once: exit %d\n%s", code, errOut)
	}
	data, err := keystore.New(dataDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	kv := nodes[0].Client(data.RootToken).KVv2("aurora")
	want := make([]string, bigSecrets)
	for i := range want {
		raw := make([]byte, bigSecretSize)
		rand.Read(raw)
		want[i] = base64.StdEncoding.EncodeToString(raw)
		if _, err := kv.Put(ctx, fmt.Sprintf("users/big-%d", i), map[string]any{"value": want[i]}); err != nil {
			t.Fatalf("write secret %d: %v", i, err)
		}
	}

	file := filepath.Join(t.TempDir(), "vault.snap")
	p := start(t, env, "backup", file)
	if code, _ := p.Wait(5 * time.Minute); code != 0 || !strings.Contains(p.Stdout.String(), "wrote a raft snapshot") {
		t.Fatalf("backup: exit %d\n%s%s", code, p.Stdout.String(), p.Stderr.String())
	}
	st, err := os.Stat(file)
	if err != nil || st.Size() < bigSecrets*bigSecretSize || st.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot: %v, %v (want at least %d bytes, mode 0600)", st, err, bigSecrets*bigSecretSize)
	}
	t.Logf("figure: snapshot of %d bytes", st.Size())
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Fatalf("the backup left %d files beside the snapshot", len(entries)-1)
	}

	// `backup -` streams the same kind of snapshot to stdout, and reports
	// on stderr, so that `docker exec ... > file` gets the snapshot alone.
	p = start(t, env, "backup", "-")
	if code, _ := p.Wait(5 * time.Minute); code != 0 || !strings.Contains(p.Stderr.String(), "wrote a raft snapshot") {
		t.Fatalf("backup -: exit %d\n%s", code, p.Stderr.String())
	}
	checkSnapshot(t, []byte(p.Stdout.String()), bigSecrets*bigSecretSize)

	fresh := vaulttest.Cluster(t, 1, 1)[0]
	restore(t, fresh, file)
	for _, key := range data.Keys[:data.SecretThreshold] {
		if _, err := fresh.Client("").Sys().UnsealWithContext(ctx, key); err != nil {
			t.Fatalf("unseal the restored Vault with an original key: %v", err)
		}
	}
	fresh.WaitFor("the restored Vault to be active", 60*time.Second, func(h *api.HealthResponse) bool {
		return vaulttest.Unsealed(h) && !h.Standby
	})
	got, err := fresh.Client(data.RootToken).KVv2("aurora").Get(ctx, "users/big-7")
	if err != nil {
		t.Fatalf("read a secret from the restored Vault: %v", err)
	}
	if got.Data["value"] != want[7] {
		t.Fatal("the restored secret differs from the one written")
	}
}

// restore initializes srv on its own (other keys, other root token),
// unseals it, and force-restores the snapshot file into it: the snapshot
// comes from another cluster. The restored Vault seals itself, to be
// unsealed with the snapshot's keys once restarted.
func restore(t *testing.T, srv *vaulttest.Server, file string) {
	t.Helper()
	ctx := context.Background()
	init, err := srv.Client("").Sys().InitWithContext(ctx, &api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client("").Sys().UnsealWithContext(ctx, init.Keys[0]); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor("the fresh Vault to be active", 60*time.Second, func(h *api.HealthResponse) bool {
		return vaulttest.Unsealed(h) && !h.Standby
	})
	snap, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := srv.Client(init.RootToken).Sys().RaftSnapshotRestoreWithContext(ctx, snap, true); err != nil {
		t.Fatalf("restore the snapshot: %v", err)
	}
	srv.WaitFor("the restored Vault to seal", 60*time.Second, func(h *api.HealthResponse) bool { return h.Sealed })
	// The running process keeps the seal configuration of its own init
	// (one share); a restart reads the restored one (the original's).
	srv.Stop()
	srv.Restart()
}

// checkSnapshot checks that raw is a whole Raft snapshot of at least min
// bytes of state: a gzipped tar whose state.bin matches its SHA256SUMS.
func checkSnapshot(t *testing.T, raw []byte, min int) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the snapshot on stdout is not gzip: %v", err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the snapshot on stdout is not a whole tar archive: %v", err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	state := files["state.bin"]
	sum := sha256.Sum256(state)
	if len(state) < min || !strings.Contains(string(files["SHA256SUMS"]), hex.EncodeToString(sum[:])+"  state.bin") {
		t.Fatalf("the snapshot on stdout: state.bin of %d bytes (want at least %d), its checksum listed: %t",
			len(state), min, strings.Contains(string(files["SHA256SUMS"]), hex.EncodeToString(sum[:])))
	}
}

// TestBackupThroughAStandby: with the standby listed first, backup still
// takes the snapshot from the active node; a standby would redirect, and
// the api package would return an empty, incomplete snapshot.
func TestBackupThroughAStandby(t *testing.T) {
	nodes := vaulttest.Cluster(t, 2, 2)
	dataDir := t.TempDir()
	addrs := "VAULT_INIT_ADDRS=" + nodes[0].Addr() + "," + nodes[1].Addr()
	env := []string{addrs, "VAULT_INIT_INIT_ADDR=" + nodes[0].Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
	if code, _, errOut := runCmd(t, env, "--once"); code != 0 {
		t.Fatalf("--once: exit %d\n%s", code, errOut)
	}
	nodes[1].WaitFor("the second node to be a standby", 60*time.Second, func(h *api.HealthResponse) bool {
		return vaulttest.Unsealed(h) && h.Standby
	})
	standbyFirst := []string{"VAULT_INIT_ADDRS=" + nodes[1].Addr() + "," + nodes[0].Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
	p := start(t, standbyFirst, "backup", "-")
	if code, _ := p.Wait(2 * time.Minute); code != 0 {
		t.Fatalf("backup through a standby listed first: exit %d\n%s", code, p.Stderr.String())
	}
	if !strings.Contains(p.Stderr.String(), nodes[0].Addr()) {
		t.Fatalf("the snapshot did not come from the active node %s:\n%s", nodes[0].Addr(), p.Stderr.String())
	}
	checkSnapshot(t, []byte(p.Stdout.String()), 1)
}
