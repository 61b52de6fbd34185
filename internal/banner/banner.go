// Package banner writes the only three texts in which vault-init shows a
// secret on purpose: the root-token banner of the seed document, the bare
// token for `vault-init root-token`, and the emergency block printed when the
// keys could not be saved. Each goes to an io.Writer the caller chooses.
package banner

import (
	"fmt"
	"io"
	"strings"

	"github.com/aurora/vault-init/internal/keystore"
)

const rule = "==================================================="

// Write prints the seed's five-line banner with the real root token.
// Operators find it with: docker logs vault-init 2>&1 | grep "Root Token:"
func Write(w io.Writer, rootToken string) error {
	_, err := fmt.Fprintf(w, "%s\nVault initialization complete!\nRoot Token: %s\nIMPORTANT: Set VAULT_TOKEN=%s in your .env file\n%s\n",
		rule, rootToken, rootToken, rule)
	return err
}

// Setup is what the banner of a run that initialized Vault shows.
type Setup struct {
	Root        string // the root token; "" when RootRevoked
	RootRevoked bool   // VAULT_INIT_REVOKE_ROOT: the root token is gone
	App         string // the application's token, when VAULT_INIT_APP_TOKEN is on
}

// WriteSetup prints the banner for s: the seed's five lines when there is
// no app token, and otherwise the app token as the value for .env. The
// "Root Token:" line is always there, for the seed's grep.
func WriteSetup(w io.Writer, s Setup) error {
	if s.App == "" && !s.RootRevoked {
		return Write(w, s.Root)
	}
	root := s.Root
	if s.RootRevoked {
		root = "revoked after setup (VAULT_INIT_REVOKE_ROOT); vault-init makes a short-lived one from the stored keys when it needs one"
	}
	_, err := fmt.Fprintf(w, "%s\nVault initialization complete!\nRoot Token: %s\nApp Token: %s\nIMPORTANT: Set VAULT_TOKEN=%s in your .env file\n%s\n",
		rule, root, s.App, s.App, rule)
	return err
}

// Kept is the banner of a run whose tokens must not reach a log: on
// Kubernetes the pods' logs go to the cluster's log pipeline, so the banner
// says where the tokens are kept and how to read them, and shows neither.
type Kept struct {
	Where       string // the keystore, for example "secret vault/vault-keys key init.json"
	Pod         string // the pod to exec into
	RootRevoked bool
	App         bool // an app token was issued
}

// WriteKept prints k's banner. The "Root Token:" line is there, for the
// seed's grep, with no token on it.
func WriteKept(w io.Writer, k Kept) error {
	exec := "kubectl exec " + k.Pod + " -c vault-init -- vault-init "
	root := "kept in " + k.Where + ", not printed: pod logs reach the cluster's log collector. Read it with: " + exec + "root-token"
	if k.RootRevoked {
		root = "revoked after setup (VAULT_INIT_REVOKE_ROOT); vault-init makes a short-lived one from the stored keys when it needs one"
	}
	app := ""
	if k.App {
		app = "App Token: kept beside the keys, not printed. Read it with: " + exec + "app-token\n"
	}
	_, err := fmt.Fprintf(w, "%s\nVault initialization complete!\nRoot Token: %s\n%s%s\n", rule, root, app, rule)
	return err
}

// WriteAppToken prints the banner of an app token issued on a later start:
// the first with VAULT_INIT_APP_TOKEN on, or after the old one was lost,
// expired or revoked.
func WriteAppToken(w io.Writer, token string) error {
	_, err := fmt.Fprintf(w, "%s\nVault app token issued (the application's token was missing, expired or revoked)\nApp Token: %s\nIMPORTANT: Set VAULT_TOKEN=%s in your .env file\n%s\n",
		rule, token, token, rule)
	return err
}

// WriteEmergency prints every key and the root token in a clearly marked
// block. It is called once, when vault-init must stop while the keys exist
// only in its memory: the block is then the only copy left.
func WriteEmergency(w io.Writer, path string, d *keystore.InitData) error {
	var b strings.Builder
	bar := strings.Repeat("#", 72)
	fmt.Fprintf(&b, "%s\n# VAULT-INIT EMERGENCY: UNSAVED UNSEAL KEYS\n", bar)
	fmt.Fprintf(&b, "# Vault was initialized, but the keys could not be saved to %s\n", path)
	b.WriteString("# and vault-init was told to stop. This block is the ONLY copy of the keys.\n")
	b.WriteString("# Copy it somewhere safe now; without it this Vault can never be unsealed.\n")
	for i, k := range d.Keys {
		fmt.Fprintf(&b, "Unseal Key %d: %s\n", i+1, k)
	}
	for i, k := range d.RecoveryKeys {
		fmt.Fprintf(&b, "Recovery Key %d: %s\n", i+1, k)
	}
	fmt.Fprintf(&b, "Initial Root Token: %s\n", d.RootToken)
	if d.AutoUnseal() {
		fmt.Fprintf(&b, "# Seal: %s. Threshold: %d of %d recovery keys.\n%s\n", d.SealType, d.RecoveryThreshold, d.RecoveryShares, bar)
	} else {
		fmt.Fprintf(&b, "# Threshold: %d of %d keys unseal Vault.\n%s\n", d.SecretThreshold, d.SecretShares, bar)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
