package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"
)

// newAgeIdentityCmd is `vault-init age-identity FILE`: a new age identity,
// for VAULT_INIT_AGE_IDENTITY_FILE, without installing age-keygen.
func newAgeIdentityCmd(stdout io.Writer) *cobra.Command {
	owner := -1
	cmd := &cobra.Command{
		Use:   "age-identity FILE",
		Short: "Write a new age identity to FILE (0400; never overwritten) and print its recipient, for VAULT_INIT_AGE_RECIPIENT",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return failure(writeAgeIdentity(args[0], owner, stdout))
		},
	}
	cmd.Flags().IntVar(&owner, "owner", -1, "uid to own FILE (vault-init's image runs as 65532); needs root")
	return cmd
}

func writeAgeIdentity(path string, owner int, stdout io.Writer) error {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	// O_EXCL: an identity that already exists may be the only way into a
	// keystore; it is never replaced.
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return fmt.Errorf("age-identity: %w", err)
	}
	_, werr := fmt.Fprintf(fh, "# created: %s by vault-init\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := errors.Join(werr, fh.Sync(), fh.Close()); err != nil {
		os.Remove(path)
		return fmt.Errorf("age-identity: %w", err)
	}
	if owner >= 0 {
		if err := os.Chown(path, owner, owner); err != nil {
			return fmt.Errorf("age-identity: %w", err)
		}
	}
	_, err = fmt.Fprintln(stdout, id.Recipient())
	return err
}
