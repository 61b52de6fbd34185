// Package kvmount makes sure that Aurora's secrets mount exists as a KV
// version 2 engine, and writes nothing when it already does.
package kvmount

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/api"
)

// Lister is the read-only part of Vault that Check needs: the api client's
// Sys().ListMountsWithContext, with a token that may read sys/mounts.
type Lister interface {
	ListMountsWithContext(ctx context.Context) (map[string]*api.MountOutput, error)
}

// Vault is what Ensure needs: Lister plus the calls that create and tune a
// mount, with a token allowed to make them.
type Vault interface {
	Lister
	MountWithContext(ctx context.Context, path string, in *api.MountInput) error
	TuneMountWithContext(ctx context.Context, path string, in api.MountConfigInput) error
}

// Action says what Ensure did.
type Action string

// The actions.
const (
	Unchanged Action = "unchanged" // already KV v2: nothing written
	Created   Action = "created"
	Upgraded  Action = "upgraded" // was KV v1, tuned to version 2
)

// WrongTypeError means the path holds another kind of secrets engine. It is
// left alone: converting it would destroy its data.
type WrongTypeError struct {
	Path, Type string
}

func (e *WrongTypeError) Error() string {
	return fmt.Sprintf("mount %s/ is a %q secrets engine, not kv; vault-init leaves it alone: "+
		"move it (vault secrets move) or choose another VAULT_KV_MOUNT", e.Path, e.Type)
}

// Errors Check returns for a kv mount that is not yet right.
var (
	ErrMissing = errors.New("mount does not exist")
	ErrKVv1    = errors.New("mount is kv version 1, not 2")
)

// Check reports whether path is a KV version 2 mount, changing nothing. It
// returns nil when it is; ErrMissing, ErrKVv1 (wrapped, naming the path) or
// a *WrongTypeError when it is not; or the error of the request.
func Check(ctx context.Context, v Lister, path string) error {
	mounts, err := v.ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("list mounts: %w", err)
	}
	m, ok := mounts[path+"/"]
	switch {
	case !ok:
		return fmt.Errorf("%s/: %w", path, ErrMissing)
	case m == nil:
		// A reply that names the mount but describes nothing: a proxy or a
		// broken Vault. Neither "missing" nor "wrong type" would be true.
		return fmt.Errorf("%s/: vault listed the mount without describing it", path)
	case m.Type != "kv" && m.Type != "generic": // "generic" is kv's old name
		return &WrongTypeError{Path: path, Type: m.Type}
	case m.Options["version"] != "2":
		return fmt.Errorf("%s/: %w", path, ErrKVv1)
	}
	return nil
}

// Ensure makes path a KV version 2 mount: it creates a missing one and
// upgrades a version 1 one. Another engine type is a *WrongTypeError.
func Ensure(ctx context.Context, v Vault, path string) (Action, error) {
	err := Check(ctx, v, path)
	switch {
	case err == nil:
		return Unchanged, nil
	case errors.Is(err, ErrMissing):
		if err := create(ctx, v, path); err != nil {
			return "", err
		}
		return Created, nil
	case errors.Is(err, ErrKVv1):
		if err := v.TuneMountWithContext(ctx, path, api.MountConfigInput{Options: map[string]string{"version": "2"}}); err != nil {
			return "", fmt.Errorf("upgrade %s to kv v2: %w", path, err)
		}
		return Upgraded, nil
	}
	return "", err
}

// EnsureFresh is Ensure for a Vault that was initialized a moment ago by
// the caller, and so has no mount but the built-in ones: it mounts at once,
// one request instead of two. Should the mount fail (it exists after all),
// it falls back to Ensure.
func EnsureFresh(ctx context.Context, v Vault, path string) (Action, error) {
	if create(ctx, v, path) == nil {
		return Created, nil
	}
	return Ensure(ctx, v, path)
}

func create(ctx context.Context, v Vault, path string) error {
	err := v.MountWithContext(ctx, path, &api.MountInput{
		Type:        "kv",
		Description: "Aurora user credentials (managed by vault-init)",
		Options:     map[string]string{"version": "2"},
	})
	if err != nil {
		return fmt.Errorf("mount kv v2 at %s: %w", path, err)
	}
	return nil
}

// OneMount is a Lister that sees only one mount, through
// sys/internal/ui/mounts/<path>: any token with a capability inside the
// mount may read it, so the application's token can check the mount where
// listing sys/mounts needs root.
type OneMount struct {
	Client *api.Client
	Path   string
}

// ListMountsWithContext returns the one mount, or no mount when Vault says
// it is not there (or not visible to the token).
func (o OneMount) ListMountsWithContext(ctx context.Context) (map[string]*api.MountOutput, error) {
	s, err := o.Client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+o.Path)
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 403 {
		return map[string]*api.MountOutput{}, nil
	}
	if err != nil {
		return nil, err
	}
	if s == nil || s.Data == nil {
		return map[string]*api.MountOutput{}, nil
	}
	m := &api.MountOutput{Options: map[string]string{}}
	m.Type, _ = s.Data["type"].(string)
	if opts, ok := s.Data["options"].(map[string]any); ok {
		for k, v := range opts {
			m.Options[k], _ = v.(string)
		}
	}
	return map[string]*api.MountOutput{o.Path + "/": m}, nil
}
