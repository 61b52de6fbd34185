// Package apptoken gives the application a token of its own, so that Aurora
// never needs the root token: a policy limited to its secrets, and one
// renewable periodic orphan token with that policy.
//
// A periodic token rather than AppRole: Aurora reads one VAULT_TOKEN from
// .env and has no login code. A periodic token lives as long as it is renewed
// within its period (vault-init renews it), has no maximum lifetime to hit,
// and being an orphan it survives the revocation of the token that made it.
package apptoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// Meta marks the tokens vault-init issues, so that a lost one can be found
// and revoked: there is never more than one live.
const (
	MetaKey   = "created_by"
	MetaValue = "vault-init"
)

// ErrInvalid means that the token no longer works: revoked, expired, or
// not a token at all.
var ErrInvalid = errors.New("the app token is no longer valid")

// Options says what the application may reach and how its token lives.
type Options struct {
	Policy   string // the policy's name
	Mount    string // the KV v2 mount
	BasePath string // the application's subtree in it; "" for all of it
	Period   time.Duration
}

// Rules is the policy: create, read, update, delete and list under the base
// path, in the data/ and metadata/ trees of the KV v2 mount, and nothing
// else. A trailing * matches by prefix, so the base itself is listable.
func Rules(mount, base string) string {
	prefix := ""
	if base != "" {
		prefix = base + "/"
	}
	var b strings.Builder
	b.WriteString("# Managed by vault-init: the application's access to its secrets.\n")
	for _, tree := range []string{"data", "metadata"} {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n}\n",
			mount+"/"+tree+"/"+prefix+"*")
	}
	return b.String()
}

// EnsurePolicy writes the policy unless Vault holds exactly these rules
// already. It reports whether it wrote.
func EnsurePolicy(ctx context.Context, admin *api.Sys, o Options) (bool, error) {
	want := Rules(o.Mount, o.BasePath)
	have, err := admin.GetPolicyWithContext(ctx, o.Policy)
	if err != nil {
		return false, fmt.Errorf("read policy %s: %w", o.Policy, err)
	}
	if have == want {
		return false, nil
	}
	if err := admin.PutPolicyWithContext(ctx, o.Policy, want); err != nil {
		return false, fmt.Errorf("write policy %s: %w", o.Policy, err)
	}
	return true, nil
}

// Renew renews the token that app carries, and returns its TTL. ErrInvalid
// means the token must be issued again: revoked, expired, or not one that
// vault-init issued with the policy (somebody else's token in the file).
func Renew(ctx context.Context, app *api.Client, o Options) (time.Duration, error) {
	s, err := app.Auth().Token().RenewSelfWithContext(ctx, 0)
	if err != nil {
		return 0, invalid(err)
	}
	policies, _ := s.TokenPolicies()
	meta, _ := s.TokenMetadata()
	if !slices.Contains(policies, o.Policy) || meta[MetaKey] != MetaValue {
		return 0, fmt.Errorf("%w: it lacks policy %s or was not issued by vault-init", ErrInvalid, o.Policy)
	}
	ttl, err := s.TokenTTL()
	if err != nil {
		return 0, fmt.Errorf("renew app token: %w", err)
	}
	return ttl, nil
}

// invalid maps Vault's "permission denied" (what a revoked or expired token
// gets) to ErrInvalid; other errors (Vault down) stay as they are.
func invalid(err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusBadRequest) {
		return fmt.Errorf("%w (%d from Vault)", ErrInvalid, re.StatusCode)
	}
	return fmt.Errorf("check app token: %w", err)
}

// Issue revokes every earlier token vault-init issued with this policy and
// creates a new one. admin must hold root (or sudo on create-orphan).
func Issue(ctx context.Context, admin *api.Client, o Options) (string, error) {
	if _, err := RevokeIssued(ctx, admin, o.Policy); err != nil {
		return "", err
	}
	renewable := true
	s, err := admin.Auth().Token().CreateOrphanWithContext(ctx, &api.TokenCreateRequest{
		Policies:    []string{o.Policy},
		Period:      o.Period.String(),
		Renewable:   &renewable,
		DisplayName: o.Policy,
		Metadata:    map[string]string{MetaKey: MetaValue},
	})
	if err != nil {
		return "", fmt.Errorf("create app token: %w", err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return "", errors.New("create app token: Vault returned no token")
	}
	return s.Auth.ClientToken, nil
}

// RevokeIssued revokes every live token that vault-init issued with the
// policy. It lists every accessor (a root-only call), so it runs only when
// a token is issued.
func RevokeIssued(ctx context.Context, admin *api.Client, policy string) (int, error) {
	s, err := admin.Logical().ListWithContext(ctx, "auth/token/accessors")
	if err != nil {
		return 0, fmt.Errorf("list token accessors: %w", err)
	}
	if s == nil {
		return 0, nil
	}
	keys, _ := s.Data["keys"].([]any)
	revoked := 0
	for _, k := range keys {
		acc, _ := k.(string)
		if acc == "" {
			continue
		}
		t, err := admin.Auth().Token().LookupAccessorWithContext(ctx, acc)
		var re *api.ResponseError
		if (err != nil && errors.As(err, &re) && re.StatusCode == http.StatusBadRequest) || (err == nil && t == nil) {
			continue // gone in the meantime
		}
		if err != nil {
			return revoked, fmt.Errorf("look up a token accessor: %w", err)
		}
		meta, _ := t.TokenMetadata()
		policies, _ := t.TokenPolicies()
		if meta[MetaKey] != MetaValue || !slices.Contains(policies, policy) {
			continue
		}
		if err := admin.Auth().Token().RevokeAccessorWithContext(ctx, acc); err != nil {
			return revoked, fmt.Errorf("revoke an earlier app token: %w", err)
		}
		revoked++
	}
	return revoked, nil
}
