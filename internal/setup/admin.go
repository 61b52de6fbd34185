package setup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/events"
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
// token (the revoke-root step), and the keystore is rid of it before it is
// revoked: the stored token is never a revoked one.
func (s *Setup) adminToken(ctx context.Context, n Node) (string, func(), error) {
	noop := func() {}
	data, err := s.keys.Load()
	if err != nil || (data.RootToken == "" && !s.opts.RevokeRoot && !data.RootTokenRevoked) {
		if s.opts.FallbackToken != "" {
			return s.opts.FallbackToken, noop, nil
		}
		if err != nil {
			return "", noop, err
		}
		return "", noop, fmt.Errorf("cannot configure mount %s/: the keystore holds no root token and VAULT_TOKEN is not set", s.opts.KVMount)
	}
	if data.RootToken != "" && !s.opts.RevokeRoot {
		return data.RootToken, noop, nil
	}
	token, stored := data.RootToken, data.RootToken != ""
	if !stored {
		s.generating.Lock()
		token, err = s.generateRoot(ctx, n, data)
		s.generating.Unlock()
		if err != nil {
			return "", noop, err
		}
		n.Log.Info("generated a short-lived root token from the stored keys, to configure Vault; it is revoked when done")
	}
	c, err := withToken(n.Client, token)
	if err != nil {
		return "", noop, err // a generated token is not lost to a clone: Clone fails only on a bad config
	}
	// giveUp drops the token after a failure before it is recorded: a
	// generated one is revoked; the stored one is kept, since the keystore
	// still holds it and a stored token must never be a revoked one.
	giveUp := func(err error) (string, func(), error) {
		if !stored {
			_ = revoke(c, n.Log, "the generated root token")
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
	if err := s.keys.Update(func(d *keystore.InitData) {
		if d.RootToken != "" {
			d.RootToken, d.RootTokenRevoked = "", true
		}
		if !slices.Contains(d.PendingRevoke, accessor) {
			d.PendingRevoke = append(d.PendingRevoke, accessor)
		}
	}); err != nil {
		err = fmt.Errorf("record the root token's revocation (the token is kept until the keystore can be written): %w", err)
		return giveUp(&StepError{Step: "revoke-root", Err: err})
	}
	s.revokeLeftovers(ctx, n, c, accessor, data.PendingRevoke)
	release := func() {
		if err := revoke(c, n.Log, "the root token (it stays listed in the keystore and is revoked on the next setup)"); err != nil {
			s.emit(events.StepFailed, n, "revoke-root", err)
			return
		}
		if err := s.forgetPending(accessor); err != nil {
			n.Log.Warn("the root token was revoked, but the keystore still lists it as pending; the next start clears it", zap.Error(err))
		}
		n.Log.Info("root token revoked")
		s.emit(events.StepDone, n, "revoke-root", nil)
	}
	return token, release, nil
}

// generateRoot makes a root token from the stored keys; when they fail and
// a rekey is pending (a crash came after Vault took its new keys), from the
// new keys. Someone else's attempt (a *roottoken.BusyError) or a stop ends
// it at once.
func (s *Setup) generateRoot(ctx context.Context, n Node, data *keystore.InitData) (string, error) {
	sets := data.GenerateRootKeySets()
	var err error
	for i, keys := range sets {
		var token string
		token, err = roottoken.Generate(ctx, n.Client.Sys(), s.nonces, keys)
		var busy *roottoken.BusyError
		if err == nil || errors.As(err, &busy) || ctx.Err() != nil {
			return token, err
		}
		if i+1 < len(sets) {
			n.Log.Info("the stored keys did not make a root token; trying the new keys of the rekey that was under way", zap.Error(err))
		}
	}
	return "", err
}

// revokeLeftovers revokes root tokens that a stopped vault-init held and
// could not revoke (their accessors were left pending), and forgets them.
func (s *Setup) revokeLeftovers(ctx context.Context, n Node, c *api.Client, current string, pending []string) {
	for _, acc := range pending {
		if acc == current {
			continue
		}
		err := c.Auth().Token().RevokeAccessorWithContext(ctx, acc)
		var re *api.ResponseError
		if err != nil && !(errors.As(err, &re) && re.StatusCode == 400) { // 400: already gone
			n.Log.Warn("could not revoke a root token left by an earlier run; retrying on the next setup", zap.Error(err))
			continue
		}
		if err := s.forgetPending(acc); err != nil {
			n.Log.Warn("could not update the keystore", zap.Error(err))
			continue
		}
		n.Log.Info("revoked a root token left by an earlier run")
	}
}

// forgetPending drops a revoked root token's accessor from the keystore.
func (s *Setup) forgetPending(accessor string) error {
	return s.keys.Update(func(d *keystore.InitData) {
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

// Admin returns a client that carries the admin token setup uses, for a
// one-shot command that needs it (`vault-init rotate`): the stored root
// token; else, when it was revoked, a short-lived root token generated
// from the stored keys and revoked by release; else VAULT_TOKEN. With
// RevokeRoot on and the root token still stored (setup has not released it
// yet), it is that token, dropped from the keystore and revoked by release:
// the revoke-root step, done by the command. Call release when done,
// whatever the outcome.
func (s *Setup) Admin(ctx context.Context, n Node) (*api.Client, func(), error) {
	token, release, err := s.adminToken(ctx, n)
	if err != nil {
		return nil, release, err
	}
	c, err := withToken(n.Client, token)
	if err != nil {
		release()
		return nil, func() {}, err
	}
	return c, release, nil
}
