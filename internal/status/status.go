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
	Addr      string
	State     vaultstate.State
	Health    *api.HealthResponse
	VaultErr  error
	Mount     string
	MountErr  error // nil when the mount is kv v2
	Keystore  string
	KeysErr   error // nil when the keystore loaded; matches keystore.ErrNotFound when absent
	Shares    int
	Threshold int
	CreatedAt time.Time
	RootToken bool
	FileMode  fs.FileMode
}

// Ready is the health test: Vault unsealed and the mount in place.
func (r *Report) Ready() bool {
	return r.State.Unsealed() && r.MountErr == nil
}

// Gather builds a report. The mount is checked with the keystore's root
// token, or fallbackToken when the keystore has none.
func Gather(ctx context.Context, c *api.Client, ks *keystore.File, mount, fallbackToken string) *Report {
	r := &Report{Addr: c.Address(), Mount: mount, Keystore: ks.Path()}
	obs := vaultstate.Observe(ctx, c.Sys())
	r.State, r.Health, r.VaultErr = obs.State, obs.Health, obs.Err

	data, err := ks.Load()
	r.KeysErr = err
	token := fallbackToken
	if err == nil {
		r.Shares, r.Threshold, r.CreatedAt, r.RootToken = data.SecretShares, data.SecretThreshold, data.CreatedAt, data.RootToken != ""
		if data.RootToken != "" {
			token = data.RootToken
		}
		r.FileMode, _ = ks.Mode()
	}

	switch {
	case !r.State.Unsealed():
		r.MountErr = errors.New("not checked: vault is not unsealed")
	case token == "":
		r.MountErr = errors.New("not checked: no root token in the keystore and VAULT_TOKEN is not set")
	default:
		tc, err := c.Clone()
		if err != nil {
			r.MountErr = err
			break
		}
		tc.SetToken(token)
		r.MountErr = kvmount.Check(ctx, tc.Sys(), mount)
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
	p("Vault        %s", r.Addr)
	if r.Health != nil {
		p("  state        %s", r.State)
		p("  initialized  %s", yes(r.Health.Initialized))
		p("  sealed       %s", yes(r.Health.Sealed))
		p("  version      %s", r.Health.Version)
	} else {
		p("  state        %s", r.State)
		if r.VaultErr != nil {
			p("  error        %v", r.VaultErr)
		}
	}
	if r.MountErr == nil {
		p("  mount        %s/ is kv version 2", r.Mount)
	} else {
		p("  mount        %s/: %v", r.Mount, r.MountErr)
	}
	p("Keystore     %s", r.Keystore)
	switch {
	case errors.Is(r.KeysErr, keystore.ErrNotFound):
		p("  present      no")
	case r.KeysErr != nil:
		p("  present      yes, but unusable: %v", r.KeysErr)
	default:
		p("  present      yes")
		p("  keys         %d shares, threshold %d", r.Shares, r.Threshold)
		p("  created      %s", r.CreatedAt.Format(time.RFC3339))
		p("  root token   %s", yes(r.RootToken))
		p("  file mode    %04o", r.FileMode)
	}
	_, err := fmt.Fprintf(w, "Ready        %s\n", yes(r.Ready()))
	return err
}
