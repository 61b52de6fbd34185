package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aurora/vault-init/internal/migrate"
)

// newMigrateCmd is `vault-init migrate`: the one-shot seal migration. The
// watch loop never migrates; running this command is the operator's word.
func newMigrateCmd(s *settings, stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Finish a seal migration after Vault's seal stanza changed: send the stored shares with migrate=true and rename them in the keystore",
		Long: "Change Vault's seal stanza (add a transit or awskms seal; or mark it disabled = \"true\" to go back to Shamir),\n" +
			"restart Vault, then run `vault-init migrate`. It sends the stored shares with migrate=true to the node that\n" +
			"waits for the migration, checks Vault's new seal, and saves the shares under their new name: unseal keys\n" +
			"become recovery keys, or the reverse. Running it again after an interruption finishes the job.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMigrate(cmd.Context(), s, stdout, stderr) },
	}
}

// runMigrate runs migrate.Run on the configured nodes and keystore.
func runMigrate(ctx context.Context, s *settings, stdout, stderr io.Writer) error {
	cfg, clients, st, err := open(s)
	if err != nil {
		return failure(err)
	}
	log := newLogger(cfg, stderr)
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone
	nodes := make([]migrate.Node, len(clients))
	for i, c := range clients {
		nodes[i] = migrate.Node{Addr: cfg.Nodes()[i], Vault: c.Sys()}
	}
	res, err := migrate.Run(ctx, migrate.Options{Nodes: nodes, Keys: st.keys, Log: log})
	if err != nil {
		return failure(fmt.Errorf("migrate: %w", err))
	}
	_, err = fmt.Fprintln(stdout, res)
	return failure(err)
}
