// Package cli is vault-init's command layer: it parses flags, environment
// and config file (through viper, which lives only here), builds the logger,
// and runs a subcommand. Run takes its streams as arguments, so the whole
// program can be driven from tests.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/initializer"
)

// Exit codes of vault-init.
const (
	ExitOK          = 0 // done, or stopped by SIGTERM/SIGINT
	ExitFailure     = 1 // an error, or `status`/`healthcheck`: not ready
	ExitUsage       = 2 // bad flags or configuration; Vault was not contacted
	ExitKeysUnsaved = 3 // stopped before the keys could be saved; they were printed to stderr
	ExitNotYet      = 4 // `app-token`: the app token is on, but not issued yet (ask again in a moment)
)

// Version is stamped in at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// exitError carries an exit code up to Run. A nil err means "exit quietly".
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Run runs vault-init with args (without the program name) and returns the
// exit code. Logs and errors go to stderr; the banner, reports and the root
// token go to stdout.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "vault-init: %v\n", ee.err)
		}
		return ee.code
	}
	// Anything cobra itself refused (unknown flag or command) is usage.
	fmt.Fprintf(stderr, "vault-init: %v\n", err)
	return ExitUsage
}

// newRoot builds the command tree. `run` is also the default command.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	s := newSettings()
	root := &cobra.Command{
		Use:   "vault-init",
		Short: "Initialize, unseal and configure a HashiCorp Vault, unattended",
		Long: "vault-init runs next to Vault. It initializes Vault once, keeps the unseal keys and the root token\n" +
			"in <data-dir>/init.json, unseals Vault whenever it is sealed, and makes sure the KV v2 mount exists.\n\n" +
			"Settings come from flags, then environment variables, then --config, then defaults.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	s.addFlags(root.PersistentFlags())
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "Watch Vault: initialize, unseal and configure it until stopped (the default)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runWatch(cmd.Context(), s, stdout, stderr) },
	}
	root.RunE = runCmd.RunE
	root.AddCommand(runCmd,
		&cobra.Command{
			Use:   "status",
			Short: "Report Vault's and the keystore's state; exit 0 when Vault is unsealed and the mount is in place",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), s, stdout, false) },
		},
		&cobra.Command{
			Use:   "healthcheck",
			Short: "Like status, silent: for a container healthcheck",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), s, io.Discard, true) },
		},
		&cobra.Command{
			Use:   "pause [reason]",
			Short: "Mark the data dir so that vault-init stops unsealing (and initializing) Vault, until resume; survives restarts",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runPause(s, stdout, strings.Join(args, " "))
			},
		},
		&cobra.Command{
			Use:   "resume",
			Short: "Remove the pause mark: vault-init unseals Vault again",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runResume(s, stdout) },
		},
		&cobra.Command{
			Use:   "backup FILE",
			Short: "Write a Raft snapshot of Vault to FILE, or to stdout with - (Raft storage only; see docs/operations.md for file storage)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runBackup(cmd.Context(), s, stdout, stderr, args[0])
			},
		},
		&cobra.Command{
			Use:   "root-token",
			Short: "Print the root token stored in the keystore",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runRootToken(s, stdout) },
		},
		&cobra.Command{
			Use:   "app-token",
			Short: "Print the application's token (<data-dir>/app-token), the value for VAULT_TOKEN in .env",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return runAppToken(s, stdout) },
		},
		newMigrateCmd(s, stdout, stderr),
		newRekeyCmd(s, stdout, stderr),
		newRotateCmd(s, stdout, stderr),
		newAgeIdentityCmd(stdout),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintf(stdout, "vault-init %s\n", Version)
				return err
			},
		},
	)
	return root
}

// failure wraps err with an exit code, keeping ErrKeysUnsaved distinct.
func failure(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, initializer.ErrKeysUnsaved) {
		return &exitError{code: ExitKeysUnsaved, err: err}
	}
	var p config.Problems
	if errors.As(err, &p) {
		return &exitError{code: ExitUsage, err: err}
	}
	return &exitError{code: ExitFailure, err: err}
}
