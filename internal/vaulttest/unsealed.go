package vaulttest

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// StartUnsealed starts a server, initializes it with one share and unseals
// it, for tests of what vault-init does to a Vault that is already up (not
// of init itself). It returns the server and the init reply, whose root
// token and key the test may use.
func StartUnsealed(t testing.TB, opts Options) (*Server, *api.InitResponse) {
	t.Helper()
	srv := Start(t, opts)
	ctx := context.Background()
	resp, err := srv.Client("").Sys().InitWithContext(ctx, &api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client("").Sys().UnsealWithContext(ctx, resp.Keys[0]); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor("active", 30*time.Second, func(h *api.HealthResponse) bool { return Unsealed(h) && !h.Standby })
	return srv, resp
}
