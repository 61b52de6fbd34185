package cli

import (
	"context"
	"errors"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/vaultstate"
)

// errNoActive: no configured node is unsealed and active.
var errNoActive = errors.New("no node is active (unsealed, and not a standby)")

// activeNode returns the first of clients that is unsealed and active (a
// standby answers some requests with a redirect that the api package
// follows into an empty reply, hashicorp/vault#15258), with its seal
// status.
func activeNode(ctx context.Context, clients []*api.Client) (*api.Client, *api.SealStatusResponse, error) {
	for _, c := range clients {
		if vaultstate.Observe(ctx, c.Sys()).State != vaultstate.Active {
			continue
		}
		if st, err := c.Sys().SealStatusWithContext(ctx); err == nil && !st.Sealed {
			return c, st, nil
		}
	}
	return nil, nil, errNoActive
}
