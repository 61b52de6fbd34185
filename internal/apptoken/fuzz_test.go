package apptoken

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/vaulttest"
)

// FuzzTokenReplies serves arbitrary replies to the token calls (renew-self,
// the accessor list and lookups, create): Renew, RevokeIssued and Issue must
// never panic; Renew accepts a token only when the reply carries the policy
// and vault-init's metadata; Issue returns a token only when one came back.
func FuzzTokenReplies(f *testing.F) {
	f.Add(200, []byte(`{"auth":{"client_token":"t","policies":["app"],"metadata":{"created_by":"vault-init"},"lease_duration":60}}`))
	f.Add(200, []byte(`{"auth":null}`))
	f.Add(200, []byte(`{"data":{"keys":["a","b",null,7]}}`))
	f.Add(200, []byte(`{"data":{"policies":null,"meta":{"created_by":"vault-init"}}}`))
	f.Add(200, []byte(`{"data":{"keys":null}}`))
	f.Add(400, []byte(`{"errors":["invalid accessor"]}`))
	f.Add(403, []byte(`{"errors":["permission denied"]}`))
	f.Add(200, []byte(``))
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		code = vaulttest.FuzzCode(code)
		c := vaulttest.Replies(t, "t", func(string, string) (int, []byte) { return code, body })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o := Options{Policy: "app", Mount: "aurora", BasePath: "users", Period: time.Hour}
		if _, err := Renew(ctx, c, o); err == nil && code >= 400 {
			t.Fatalf("HTTP %d to renew-self, and Renew accepts the token", code)
		} else if errors.Is(err, ErrInvalid) && code >= 500 {
			t.Fatalf("HTTP %d (Vault failing) taken as an invalid token: the token would be re-issued", code)
		}
		_, _ = RevokeIssued(ctx, c, o.Policy)
		if tok, err := Issue(ctx, c, o); err == nil && tok == "" {
			t.Fatal("Issue returned no token and no error")
		}
	})
}
