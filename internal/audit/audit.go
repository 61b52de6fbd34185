// Package audit makes sure that Vault has the audit device the operator
// asked for (VAULT_INIT_AUDIT), writes nothing when it already does, and
// replaces vault-init's own device when the setting changes.
package audit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Vault is what Ensure needs: the api client's Sys() audit calls, with a
// token allowed to manage sys/audit.
type Vault interface {
	ListAuditWithContext(ctx context.Context) (map[string]*api.Audit, error)
	EnableAuditWithOptionsWithContext(ctx context.Context, path string, opts *api.EnableAuditOptions) error
	DisableAuditWithContext(ctx context.Context, path string) error
}

// Paths are where vault-init mounts its audit device. It uses the free one
// of the two, so that a changed setting enables the new device before the
// old one is disabled: there is never a moment without a device.
var Paths = []string{"vault-init-file", "vault-init-file-b"}

// Ensure makes sure a file audit device writes to filePath. It enables one
// unless some device already writes there, and disables vault-init's own
// devices that write elsewhere (an earlier setting). Devices that vault-init
// did not enable are never touched. It reports whether it enabled one.
func Ensure(ctx context.Context, v Vault, filePath string) (bool, error) {
	devices, err := v.ListAuditWithContext(ctx)
	if err != nil {
		return false, fmt.Errorf("list audit devices: %w", err)
	}
	have, stale, err := sortDevices(devices, filePath)
	if err != nil {
		return false, err
	}
	enabled := false
	if have == "" {
		path := freePath(devices)
		if path == "" {
			// Both paths hold stale devices (a stop between enable and
			// disable, twice): free one first.
			path, stale = stale[0], stale[1:]
			if err := disable(ctx, v, path); err != nil {
				return false, err
			}
		}
		if err := v.EnableAuditWithOptionsWithContext(ctx, path, &api.EnableAuditOptions{
			Type: "file", Description: "enabled by vault-init", Options: map[string]string{"file_path": filePath},
		}); err != nil {
			return false, fmt.Errorf("enable file audit device to %s: %w", filePath, err)
		}
		enabled = true
	}
	for _, path := range stale {
		if err := disable(ctx, v, path); err != nil {
			return enabled, err
		}
	}
	return enabled, nil
}

// sortDevices finds the device that writes to filePath (have; vault-init's
// own first) and vault-init's own devices that write elsewhere (stale).
func sortDevices(devices map[string]*api.Audit, filePath string) (have string, stale []string, err error) {
	paths := make([]string, 0, len(devices))
	for p := range devices {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		d, path := devices[p], strings.TrimSuffix(p, "/")
		if d == nil {
			return "", nil, fmt.Errorf("vault listed audit device %s without describing it", path)
		}
		own := slices.Contains(Paths, path)
		switch {
		case d.Type == "file" && d.Options["file_path"] == filePath:
			if have == "" || own {
				have = path
			}
		case own:
			stale = append(stale, path)
		}
	}
	return have, stale, nil
}

// freePath is the first of Paths with no device.
func freePath(devices map[string]*api.Audit) string {
	for _, p := range Paths {
		if _, used := devices[p+"/"]; !used {
			return p
		}
	}
	return ""
}

func disable(ctx context.Context, v Vault, path string) error {
	if err := v.DisableAuditWithContext(ctx, path); err != nil {
		return fmt.Errorf("disable vault-init's earlier audit device %s: %w", path, err)
	}
	return nil
}
