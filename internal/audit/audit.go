// Package audit makes sure that Vault has the audit device the operator
// asked for (VAULT_INIT_AUDIT), and writes nothing when it already does.
package audit

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/api"
)

// Vault is what Ensure needs: the api client's Sys() audit calls, with a
// token allowed to manage sys/audit.
type Vault interface {
	ListAuditWithContext(ctx context.Context) (map[string]*api.Audit, error)
	EnableAuditWithOptionsWithContext(ctx context.Context, path string, opts *api.EnableAuditOptions) error
}

// Path is where vault-init mounts its audit device.
const Path = "vault-init-file"

// Ensure enables a file audit device writing to filePath unless one
// already writes there. It reports whether it enabled one.
func Ensure(ctx context.Context, v Vault, filePath string) (bool, error) {
	devices, err := v.ListAuditWithContext(ctx)
	if err != nil {
		return false, fmt.Errorf("list audit devices: %w", err)
	}
	for _, d := range devices {
		if d.Type == "file" && d.Options["file_path"] == filePath {
			return false, nil
		}
	}
	if err := v.EnableAuditWithOptionsWithContext(ctx, Path, &api.EnableAuditOptions{
		Type: "file", Description: "enabled by vault-init", Options: map[string]string{"file_path": filePath},
	}); err != nil {
		return false, fmt.Errorf("enable file audit device to %s: %w", filePath, err)
	}
	return true, nil
}
