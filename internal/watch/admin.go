package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/roottoken"
)

// ReleaseTimeout bounds the revocation of a root token when vault-init is
// done with it; it runs even while vault-init is stopping.
const ReleaseTimeout = 10 * time.Second

// adminToken returns the token that configures Vault, and a release that the
// caller must call when done with it. It is the keystore's root token, or
// else, when that was revoked (or is to be), a root token generated from the
// stored keys; or else VAULT_TOKEN. In revoke-root mode release revokes the
// token, and the keystore is rid of it before it is revoked: the stored
// token is never a revoked one.
func (n *node) adminToken(ctx context.Context) (string, func(), error) {
	noop := func() {}
	data, err := n.w.loadKeys()
	if err != nil || (data.RootToken == "" && !n.w.opts.RevokeRoot && !data.RootTokenRevoked) {
		if n.w.opts.FallbackToken != "" {
			return n.w.opts.FallbackToken, noop, nil
		}
		if err != nil {
			return "", noop, err
		}
		return "", noop, fmt.Errorf("cannot configure mount %s/: the keystore holds no root token and VAULT_TOKEN is not set", n.w.opts.KVMount)
	}
	if data.RootToken != "" && !n.w.opts.RevokeRoot {
		return data.RootToken, noop, nil
	}
	token, stored := data.RootToken, data.RootToken != ""
	if !stored {
		// One attempt at a time in this process: the nonce record is shared.
		n.w.generating.Lock()
		token, err = roottoken.Generate(ctx, n.client.Sys(), n.w.local, data.GenerateRootKeys())
		n.w.generating.Unlock()
		if err != nil {
			return "", noop, err
		}
		n.log.Info("generated a short-lived root token from the stored keys, to configure Vault; it is revoked when done")
	}
	c, err := n.withToken(token)
	if err != nil {
		return "", noop, err // a generated token is not lost to a clone: Clone fails only on a bad config
	}
	// giveUp drops the token after a failure before it is recorded: a
	// generated one is revoked; the stored one is kept, since the keystore
	// still holds it and a stored token must never be a revoked one.
	giveUp := func(err error) (string, func(), error) {
		if !stored {
			_ = revoke(c, n.log, "the generated root token")
		}
		return "", noop, err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReleaseTimeout)
	self, err := c.Auth().Token().LookupSelfWithContext(lctx)
	cancel()
	if err != nil {
		return giveUp(fmt.Errorf("look up the root token: %w", err))
	}
	accessor, err := self.TokenAccessor()
	if err != nil || accessor == "" {
		return giveUp(fmt.Errorf("the root token's lookup has no accessor: %v", err))
	}
	// Record the accessor before the token is used (and the stored token
	// is dropped): after a crash, the next start revokes it.
	if err := n.w.updateKeys(func(d *keystore.InitData) {
		if d.RootToken != "" {
			d.RootToken, d.RootTokenRevoked = "", true
		}
		if !slices.Contains(d.PendingRevoke, accessor) {
			d.PendingRevoke = append(d.PendingRevoke, accessor)
		}
	}); err != nil {
		return giveUp(fmt.Errorf("record the root token's revocation (the token is kept until the keystore can be written): %w", err))
	}
	n.revokeLeftovers(ctx, c, accessor, data.PendingRevoke)
	release := func() {
		if err := revoke(c, n.log, "the root token (it stays listed in the keystore and is revoked on the next setup)"); err != nil {
			return
		}
		if err := n.w.forgetPending(accessor); err != nil {
			n.log.Warn("the root token was revoked, but the keystore still lists it as pending; the next start clears it", zap.Error(err))
		}
		n.log.Info("root token revoked")
	}
	return token, release, nil
}

// revokeLeftovers revokes root tokens that a stopped vault-init held and
// could not revoke (their accessors were left pending), and forgets them.
func (n *node) revokeLeftovers(ctx context.Context, c *api.Client, current string, pending []string) {
	for _, acc := range pending {
		if acc == current {
			continue
		}
		err := c.Auth().Token().RevokeAccessorWithContext(ctx, acc)
		var re *api.ResponseError
		if err != nil && !(errors.As(err, &re) && re.StatusCode == 400) { // 400: already gone
			n.log.Warn("could not revoke a root token left by an earlier run; retrying on the next setup", zap.Error(err))
			continue
		}
		if err := n.w.forgetPending(acc); err != nil {
			n.log.Warn("could not update the keystore", zap.Error(err))
			continue
		}
		n.log.Info("revoked a root token left by an earlier run")
	}
}

// forgetPending drops a revoked root token's accessor from the keystore.
func (w *Watcher) forgetPending(accessor string) error {
	return w.updateKeys(func(d *keystore.InitData) {
		d.PendingRevoke = slices.DeleteFunc(d.PendingRevoke, func(a string) bool { return a == accessor })
	})
}

// revoke revokes the token that c carries, even while vault-init stops;
// what names it in the error log.
func revoke(c *api.Client, log *zap.Logger, what string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ReleaseTimeout)
	defer cancel()
	if err := c.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		log.Error("could not revoke "+what, zap.Error(err))
		return err
	}
	return nil
}

// withToken returns a copy of the node's client that carries token.
func (n *node) withToken(token string) (*api.Client, error) {
	c, err := n.client.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone vault client: %w", err)
	}
	c.SetToken(token)
	return c, nil
}

// ensureAppToken writes the application's policy, and keeps one valid app
// token in <data-dir>/app-token: the saved one, renewed, or a new one.
func (n *node) ensureAppToken(ctx context.Context, admin *api.Client) error {
	o := *n.w.opts.App
	wrote, err := apptoken.EnsurePolicy(ctx, admin.Sys(), o)
	if err != nil {
		return err
	}
	if wrote {
		n.log.Info("app policy written", zap.String("policy", o.Policy))
	}
	saved, err := n.w.keys.LoadAppToken()
	switch {
	case err == nil:
		err = n.renewAppToken(ctx, saved)
		if err == nil {
			return nil
		}
		if !errors.Is(err, apptoken.ErrInvalid) {
			return err
		}
		n.log.Warn("the saved app token no longer works (revoked, expired, or not vault-init's); issuing a new one", zap.Error(err))
	case !errors.Is(err, keystore.ErrNotFound):
		return err
	}
	token, err := apptoken.Issue(ctx, admin, o)
	if err != nil {
		return err
	}
	if err := n.w.keys.SaveAppToken(token); err != nil {
		if c, cerr := n.withToken(token); cerr == nil {
			_ = revoke(c, n.log, "the unsaved app token") // it must not live on
		}
		return fmt.Errorf("save the app token: %w", err)
	}
	n.w.appTokenIssued(token)
	n.log.Info("app token issued and saved", zap.String("policy", o.Policy), zap.String("path", n.w.keys.AppTokenPath()),
		zap.Duration("period", o.Period))
	return nil
}

// renewAppToken renews the app token with itself (no root needed) and
// records when.
func (n *node) renewAppToken(ctx context.Context, token string) error {
	c, err := n.withToken(token)
	if err != nil {
		return err
	}
	ttl, err := apptoken.Renew(ctx, c, *n.w.opts.App)
	if err != nil {
		return err
	}
	n.w.setAppRenewed(time.Now())
	n.log.Debug("app token renewed", zap.Duration("ttl", ttl))
	return nil
}

// maintain runs on the active node once it is configured: it renews the app
// token a few times per period. A token found invalid sends the node back
// through setup, which issues a new one.
func (n *node) maintain(ctx context.Context) time.Duration {
	if n.w.opts.App == nil || time.Since(n.w.appRenewed()) < n.w.opts.App.Period/4 {
		return n.w.opts.CheckInterval
	}
	token, err := n.w.keys.LoadAppToken()
	if err == nil {
		err = n.renewAppToken(ctx, token)
	}
	switch {
	case err == nil:
		return n.w.opts.CheckInterval
	case errors.Is(err, apptoken.ErrInvalid), errors.Is(err, keystore.ErrNotFound):
		n.log.Warn("the app token is gone or no longer works; setting up a new one", zap.Error(err))
		n.configured = false
		return 0
	}
	return n.fail(fmt.Errorf("renew the app token: %w", err))
}
