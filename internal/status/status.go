// Package status gathers one human-readable report of Vault's state and the
// keystore's, for `vault-init status` and, silently, `vault-init healthcheck`.
package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/kvmount"
	"github.com/aurora/vault-init/internal/vaultstate"
)

// Report is a snapshot. It holds no secret: only whether a token exists.
type Report struct {
	Nodes    []Node
	Mount    string
	MountErr error // nil when the mount is kv v2
	Keystore string
	// RootRevoked: the root token was revoked after setup. Encrypted: the
	// keystore is encrypted with age.
	RootRevoked, Encrypted bool
	// StoreWarnings: what the store says puts the keys at risk (a keys
	// Secret with an owner reference).
	StoreWarnings []string
	// Pending describes a rekey or seal migration that the keystore says is
	// under way (a crash interrupted it, or a cluster's standbys wait for
	// the active node to migrate), and how to settle it; "" when none.
	Pending   string
	KeysErr   error // nil when the keystore loaded; matches keystore.ErrNotFound when absent
	SealType  string
	Paused    *keystore.Pause
	Shares    int
	Threshold int
	CreatedAt time.Time
	RootToken bool
	FileMode  fs.FileMode
}

// Node is one Vault node's part of the report.
type Node struct {
	Addr     string
	State    vaultstate.State
	Health   *api.HealthResponse
	VaultErr error
	// Migration: the node is sealed and waits for a seal migration (its
	// seal stanza changed), which `vault-init migrate` finishes.
	Migration bool
}

// Ready is the health test: every node unsealed and the mount in place.
func (r *Report) Ready() bool {
	for _, n := range r.Nodes {
		if !n.State.Unsealed() {
			return false
		}
	}
	return len(r.Nodes) > 0 && r.MountErr == nil
}

// Gather builds a report over the nodes' clients. The mount is checked
// through the first unsealed node (a standby forwards to the active one),
// with the keystore's root token, or fallbackToken when it has none; or,
// when cache is not nil and holds a recent success, not asked about.
//
// keys is the keystore; local is the data dir, which holds the pause mark,
// and the keys too when keys is local.Keys (then the file's mode is shown).
func Gather(ctx context.Context, clients []*api.Client, keys *keystore.Keys, local *keystore.File, mount, fallbackToken string, cache *MountCache) *Report {
	ks := keys
	r := &Report{Mount: mount, Keystore: ks.Path()}
	var via *api.Client
	for _, c := range clients {
		obs := vaultstate.Observe(ctx, c.Sys())
		n := Node{Addr: c.Address(), State: obs.State, Health: obs.Health, VaultErr: obs.Err}
		if obs.State == vaultstate.Sealed {
			// sys/health does not tell a waiting migration apart.
			if st, err := c.Sys().SealStatusWithContext(ctx); err == nil {
				n.Migration = st.Migration
			}
		}
		r.Nodes = append(r.Nodes, n)
		if via == nil && obs.State.Unsealed() {
			via = c
		}
	}

	r.Paused, _ = local.Paused()
	data, err := ks.Load()
	r.KeysErr = err
	token := fallbackToken
	if err == nil {
		r.Shares, r.Threshold, r.CreatedAt, r.RootToken = data.SecretShares, data.SecretThreshold, data.CreatedAt, data.RootToken != ""
		r.SealType, r.RootRevoked, r.Encrypted = data.SealType, data.RootTokenRevoked, ks.EncryptedOnDisk()
		r.StoreWarnings = ks.Risks()
		r.Pending = pending(data.Pending)
		if data.AutoUnseal() {
			r.Shares, r.Threshold = data.RecoveryShares, data.RecoveryThreshold
		}
		if data.RootToken != "" {
			token = data.RootToken
		}
		if keys == local.Keys {
			r.FileMode, _ = local.Mode()
		}
	}

	// Without a root token (revoked after setup), the app token sees the
	// mount through sys/internal/ui/mounts.
	viaApp := false
	if token == "" {
		token, _ = ks.LoadAppToken()
		viaApp = token != ""
	}
	now := time.Now()
	switch {
	case via == nil:
		r.MountErr = errors.New("not checked: vault is not unsealed")
	case cache != nil && cache.fresh(mount, now):
		// A check less than cache.MaxAge old found it in place.
	case token == "":
		r.MountErr = errors.New("not checked: no root token in the keystore and VAULT_TOKEN is not set")
	default:
		tc, err := via.Clone()
		if err != nil {
			r.MountErr = err
			break
		}
		tc.SetToken(token)
		var lister kvmount.Lister = tc.Sys()
		if viaApp {
			lister = kvmount.OneMount{Client: tc, Path: mount}
		}
		r.MountErr = kvmount.Check(ctx, lister, mount)
		if r.MountErr == nil && cache != nil {
			cache.record(mount, now)
		}
	}
	return r
}

// Write prints the report for a person.
func (r *Report) Write(w io.Writer) error {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	for _, n := range r.Nodes {
		p("Vault        %s", n.Addr)
		p("  state        %s", n.State)
		if n.Health != nil {
			p("  initialized  %s", yes(n.Health.Initialized))
			p("  sealed       %s", yes(n.Health.Sealed))
			if n.Migration {
				p("  migration    pending: its seal changed; `vault-init migrate` finishes it (docs/keys.md)")
			}
			p("  version      %s", n.Health.Version)
		} else if n.VaultErr != nil {
			p("  error        %v", n.VaultErr)
		}
	}
	if r.MountErr == nil {
		p("Mount        %s/ is kv version 2", r.Mount)
	} else {
		p("Mount        %s/: %v", r.Mount, r.MountErr)
	}
	p("Keystore     %s", r.Keystore)
	switch {
	case errors.Is(r.KeysErr, keystore.ErrNotFound):
		p("  present      no")
	case r.KeysErr != nil:
		p("  present      yes, but unusable: %v", r.KeysErr)
	default:
		p("  present      yes")
		if r.SealType != "" && r.SealType != "shamir" {
			p("  seal         %s (recovery keys: %d shares, threshold %d)", r.SealType, r.Shares, r.Threshold)
		} else {
			p("  keys         %d shares, threshold %d", r.Shares, r.Threshold)
		}
		p("  created      %s", r.CreatedAt.Format(time.RFC3339))
		if r.RootRevoked {
			p("  root token   revoked after setup")
		} else {
			p("  root token   %s", yes(r.RootToken))
		}
		p("  encrypted    %s", yes(r.Encrypted))
		if keysIsFile := r.FileMode != 0; keysIsFile {
			p("  file mode    %04o", r.FileMode)
		}
		if r.Pending != "" {
			p("  pending      %s", r.Pending)
		}
		for _, warning := range r.StoreWarnings {
			p("  at risk      %s", warning)
		}
	}
	if r.Paused != nil {
		p("Paused       yes, since %s (%s): vault-init does not unseal; `vault-init resume` ends it", r.Paused.Since.Format(time.RFC3339), r.Paused.Reason)
	} else {
		p("Paused       no")
	}
	_, err := fmt.Fprintf(w, "Ready        %s\n", yes(r.Ready()))
	return err
}

// pending describes a key change under way, with the command that settles
// it.
func pending(p *keystore.Pending) string {
	switch {
	case p == nil:
		return ""
	case p.Kind == keystore.PendingRekey:
		what := "unseal keys"
		if p.Recovery {
			what = "recovery keys"
		}
		return fmt.Sprintf("a rekey of the %s to %d shares, threshold %d, started %s, did not finish: `vault-init rekey` settles it (both sets are kept until then)",
			what, p.Shares, p.Threshold, p.StartedAt.Format(time.RFC3339))
	case p.Kind == keystore.PendingSealMigration:
		return fmt.Sprintf("a seal migration to %s, started %s, did not finish: `vault-init migrate` finishes it (the shares are the same either way)",
			p.SealType, p.StartedAt.Format(time.RFC3339))
	}
	return p.Kind
}
