package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aurora/vault-init/internal/rekey"
)

// newRekeyCmd is `vault-init rekey`: new unseal keys (Shamir) or recovery
// keys (auto-unseal), in place of the stored ones.
func newRekeyCmd(s *settings, stdout, stderr io.Writer) *cobra.Command {
	var shares, threshold int
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Replace the stored unseal keys (Shamir) or recovery keys (auto-unseal) with new shares, through a verified rekey",
		Long: "Rekeys the first configured node that is unsealed and active: sys/rekey for the unseal keys of a Shamir Vault,\n" +
			"sys/rekey-recovery-key for the recovery keys of an auto-unseal Vault. The new keys are saved in the keystore\n" +
			"before Vault is asked to use them (the rekey requires verification), so a crash at any point leaves keys that\n" +
			"open Vault; a rekey interrupted that way is settled by the watch loop's next unseal or by the next rekey.\n" +
			"Someone else's rekey in progress is never cancelled.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().IntVar(&shares, "shares", 0, "number of new key shares, 1 to 255 (default: the stored number)")
	cmd.Flags().IntVar(&threshold, "threshold", 0, "shares needed to unseal (or for recovery), at most --shares; 1 only with 1 share (default: the stored threshold)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for name, v := range map[string]int{"shares": shares, "threshold": threshold} {
			if cmd.Flags().Changed(name) && v < 1 {
				return &exitError{code: ExitUsage, err: fmt.Errorf("rekey: --%s must be at least 1, not %d", name, v)}
			}
		}
		return runRekey(cmd.Context(), s, stdout, stderr, shares, threshold)
	}
	return cmd
}

// runRekey checks the counts against the keystore, then rekeys the active
// node and prints a summary without any secret.
func runRekey(ctx context.Context, s *settings, stdout, stderr io.Writer, shares, threshold int) error {
	cfg, clients, st, err := open(s)
	if err != nil {
		return failure(err)
	}
	data, err := st.keys.Load()
	if err != nil {
		return failure(fmt.Errorf("rekey: read keystore: %w", err))
	}
	// Counts are checked before Vault is contacted (rekey.Run checks them
	// again under the keystore's lock).
	if _, _, err := rekey.Counts(data, shares, threshold); err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	log := newLogger(cfg, stderr)
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone
	node, _, err := activeNode(ctx, clients)
	if err != nil {
		return failure(fmt.Errorf("rekey: %w; vault-init rekeys an unsealed Vault", err))
	}
	res, err := rekey.Run(ctx, node.Sys(), st.keys, st.local,
		rekey.Options{Shares: shares, Threshold: threshold, Node: node.Address(), Log: log})
	var counts *rekey.CountsError
	if errors.As(err, &counts) {
		return &exitError{code: ExitUsage, err: err}
	}
	if err != nil {
		return failure(fmt.Errorf("rekey: %w", err))
	}
	_, err = fmt.Fprintln(stdout, res)
	return failure(err)
}
