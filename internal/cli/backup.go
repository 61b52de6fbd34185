package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/aurora/vault-init/internal/atomicfile"
	"github.com/aurora/vault-init/internal/vaultclient"
)

// runBackup is `vault-init backup FILE`: a Raft snapshot, streamed to FILE
// whatever its size, written atomically (FILE is the whole snapshot or left
// as it was) and readable by its owner only (it holds every secret,
// encrypted). FILE "-" is stdout. See vaultclient.Snapshot for its timeout.
func runBackup(ctx context.Context, s *settings, stdout, stderr io.Writer, file string) error {
	cfg, clients, st, err := open(s)
	if err != nil {
		return failure(err)
	}
	via, seal, err := activeNode(ctx, clients)
	if err != nil {
		return failure(fmt.Errorf("backup: %w", err))
	}
	storage := seal.StorageType
	if storage != "raft" {
		return failure(fmt.Errorf("backup: Vault uses %q storage; a snapshot needs integrated (raft) storage. "+
			"Back up its data volume instead: see \"Backing up\" in docs/operations.md", storage))
	}
	token := cfg.Token.Reveal()
	if d, err := st.keys.Load(); err == nil && d.RootToken != "" {
		token = d.RootToken
	}
	via.SetToken(token)
	if file == "-" {
		// The snapshot goes to stdout, for `docker exec vault-init vault-init
		// backup - > backups/vault.snap`: the container's only writable
		// place is the keys' volume, where a snapshot must not go.
		n, err := vaultclient.Snapshot(ctx, via, stdout)
		if err != nil {
			return failure(fmt.Errorf("backup to stdout: take snapshot: %w", err))
		}
		_, err = fmt.Fprintf(stderr, "wrote a raft snapshot of %s to stdout (%d bytes)\n", via.Address(), n)
		return failure(err)
	}
	var size int64
	err = atomicfile.WriteStream(file, func(w io.Writer) error {
		n, err := vaultclient.Snapshot(ctx, via, w)
		size = n
		if err != nil {
			return fmt.Errorf("take snapshot: %w", err)
		}
		return nil
	})
	if err != nil {
		return failure(fmt.Errorf("backup to %s: %w", file, err))
	}
	_, err = fmt.Fprintf(stdout, "wrote a raft snapshot of %s to %s (%d bytes)\n", via.Address(), file, size)
	return failure(err)
}
