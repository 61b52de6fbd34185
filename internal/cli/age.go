package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"
)

// newAgeIdentityCmd is `vault-init age-identity FILE`: a new age identity,
// for VAULT_INIT_AGE_IDENTITY_FILE, without installing age-keygen.
func newAgeIdentityCmd(stdout io.Writer) *cobra.Command {
	var owner string
	cmd := &cobra.Command{
		Use: "age-identity FILE",
		Short: "Write a new age identity to FILE (never overwritten) and print its recipient, for VAULT_INIT_AGE_RECIPIENT; " +
			"FILE is 0400, or 0440 with --owner UID:GID",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := parseOwner(owner)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			return failure(writeAgeIdentity(args[0], o, stdout))
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "UID[:GID] to own FILE (needs root). With a GID the file is 0440: "+
		"`make age-identity` gives it to the host user, readable by vault-init's group 65532")
	return cmd
}

// fileOwner is who owns the identity file; -1 leaves an id as it is.
type fileOwner struct{ uid, gid int }

// parseOwner reads "", "UID" or "UID:GID".
func parseOwner(s string) (fileOwner, error) {
	o := fileOwner{uid: -1, gid: -1}
	if s == "" {
		return o, nil
	}
	uid, gid, hasGID := strings.Cut(s, ":")
	var err error
	if o.uid, err = parseID(uid); err != nil {
		return o, fmt.Errorf("age-identity: --owner %q: %w", s, err)
	}
	if hasGID {
		if o.gid, err = parseID(gid); err != nil {
			return o, fmt.Errorf("age-identity: --owner %q: %w", s, err)
		}
	}
	return o, nil
}

func parseID(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("want UID or UID:GID, numeric ids")
	}
	return n, nil
}

// perm is the identity file's mode: readable by its group only when a group
// was given on purpose (vault-init's, so that it reads the file by group
// while the host user owns it).
func (o fileOwner) perm() os.FileMode {
	if o.gid >= 0 {
		return 0o440
	}
	return 0o400
}

func writeAgeIdentity(path string, owner fileOwner, stdout io.Writer) error {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	// O_EXCL: an identity that already exists may be the only way into a
	// keystore; it is never replaced. Created 0400, so that no one else can
	// read it before the chown; opened up to the group only after.
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return fmt.Errorf("age-identity: %w", err)
	}
	_, werr := fmt.Fprintf(fh, "# created: %s by vault-init\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := errors.Join(werr, fh.Sync(), fh.Close(), setOwner(path, owner)); err != nil {
		os.Remove(path)
		return fmt.Errorf("age-identity: %w", err)
	}
	_, err = fmt.Fprintln(stdout, id.Recipient())
	return err
}

// setOwner gives path to owner, then its mode (the chown comes first: a
// group-readable file must never belong to the wrong group).
func setOwner(path string, owner fileOwner) error {
	if owner.uid < 0 && owner.gid < 0 {
		return nil
	}
	if err := os.Chown(path, owner.uid, owner.gid); err != nil {
		return err
	}
	return os.Chmod(path, owner.perm())
}
