package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/vault/api"
)

// runBackup is `vault-init backup FILE`: a Raft snapshot, written atomically
// and readable by its owner only (it holds every secret, encrypted).
func runBackup(ctx context.Context, s *settings, stdout io.Writer, file string) error {
	cfg, clients, keys, err := open(s)
	if err != nil {
		return failure(err)
	}
	var via *api.Client
	var storage string
	for _, c := range clients {
		st, err := c.Sys().SealStatusWithContext(ctx)
		if err == nil && !st.Sealed {
			via, storage = c, st.StorageType
			break
		}
	}
	if via == nil {
		return failure(errors.New("backup: no node is unsealed"))
	}
	if storage != "raft" {
		return failure(fmt.Errorf("backup: Vault uses %q storage; a snapshot needs integrated (raft) storage. "+
			"Back up its data volume instead: see \"Backing up\" in the README", storage))
	}
	token := cfg.Token.Reveal()
	if d, err := keys.Load(); err == nil && d.RootToken != "" {
		token = d.RootToken
	}
	via.SetToken(token)
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*") // 0600
	if err != nil {
		return failure(fmt.Errorf("backup: %w", err))
	}
	defer os.Remove(tmp.Name())
	if err := via.Sys().RaftSnapshotWithContext(ctx, tmp); err != nil {
		tmp.Close()
		return failure(fmt.Errorf("backup: take snapshot: %w", err))
	}
	if err := errors.Join(tmp.Sync(), tmp.Close(), os.Rename(tmp.Name(), file)); err != nil {
		return failure(fmt.Errorf("backup: write %s: %w", file, err))
	}
	st, _ := os.Stat(file)
	_, err = fmt.Fprintf(stdout, "wrote a raft snapshot of %s to %s (%d bytes)\n", via.Address(), file, st.Size())
	return failure(err)
}
