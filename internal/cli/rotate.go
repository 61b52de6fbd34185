package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/setup"
	"github.com/aurora/vault-init/internal/watch/keyring"
)

// newRotateCmd is `vault-init rotate`: a new encryption key term for
// Vault's barrier, through the admin token that setup uses.
func newRotateCmd(s *settings, stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Rotate Vault's encryption key (sys/rotate), with the admin token setup uses (a generated root token when root was revoked)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runRotate(cmd.Context(), s, stdout, stderr) },
	}
}

// runRotate rotates the active node's encryption key. The unseal (or recovery) keys do not change; that is `rekey`.
// Data written before stays readable: Vault keeps the old terms in its
// keyring.
func runRotate(ctx context.Context, s *settings, stdout, stderr io.Writer) error {
	cfg, clients, st, err := open(s)
	if err != nil {
		return failure(err)
	}
	log := newLogger(cfg, stderr)
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone
	node, _, err := activeNode(ctx, clients)
	if err != nil {
		return failure(fmt.Errorf("rotate: %w", err))
	}
	em := &events.Emitter{Sink: events.Log(log)}
	keys := keyring.New(st.keys, st.local, log, em)
	su := setup.New(setup.Options{
		KVMount: cfg.KVMount, FallbackToken: cfg.Token.Reveal(), RevokeRoot: cfg.RevokeRoot, Events: em,
	}, keys, st.local, log, io.Discard)
	admin, release, err := su.Admin(ctx, setup.Node{Addr: node.Address(), Client: node, Log: log})
	defer release()
	if err != nil {
		return failure(fmt.Errorf("rotate: admin token: %w", err))
	}
	before, err := admin.Sys().KeyStatusWithContext(ctx)
	if err != nil {
		return failure(fmt.Errorf("rotate: read the key status: %w", err))
	}
	log.Info("rotating vault's encryption key", zap.String("node", node.Address()), zap.Int("term", before.Term))
	if err := admin.Sys().RotateWithContext(ctx); err != nil {
		return failure(fmt.Errorf("rotate: %w", err))
	}
	after, err := admin.Sys().KeyStatusWithContext(ctx)
	if err != nil {
		return failure(fmt.Errorf("rotate: rotated, but the key status could not be read back: %w", err))
	}
	if after.Term <= before.Term {
		return failure(fmt.Errorf("rotate: vault answered, but its key term is still %d (was %d)", after.Term, before.Term))
	}
	_, err = fmt.Fprintf(stdout, "rotated vault's encryption key on %s: term %d -> %d (installed %s)\n",
		node.Address(), before.Term, after.Term, after.InstallTime.UTC().Format(time.RFC3339))
	return failure(err)
}
