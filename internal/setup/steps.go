package setup

import (
	"context"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/audit"
	"github.com/aurora/vault-init/internal/faultinject"
	"github.com/aurora/vault-init/internal/kvmount"
)

// ensureMount is the kv-mount step: the application's mount is KV v2.
func (s *Setup) ensureMount(ctx context.Context, n Node, admin *api.Client) error {
	faultinject.Point("before-mount")
	ensure := kvmount.Ensure
	if s.progress.takeFresh() {
		ensure = kvmount.EnsureFresh
	}
	action, err := ensure(ctx, admin.Sys(), s.opts.KVMount)
	if err != nil {
		return err
	}
	n.Log.Info("kv mount in place", zap.String("mount", s.opts.KVMount), zap.String("action", string(action)))
	return nil
}

// ensureAudit is the audit step: a file audit device writes to AuditFile.
func (s *Setup) ensureAudit(ctx context.Context, n Node, admin *api.Client) error {
	enabled, err := audit.Ensure(ctx, admin.Sys(), s.opts.AuditFile)
	if err != nil {
		return err
	}
	n.Log.Info("audit device in place", zap.String("file_path", s.opts.AuditFile), zap.Bool("enabled_now", enabled))
	return nil
}
