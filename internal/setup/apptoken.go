package setup

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/keystore"
)

// ensureAppToken is the app-token step: it writes the application's policy,
// and keeps one valid app token beside the keys: the saved one, renewed,
// or a new one.
func (s *Setup) ensureAppToken(ctx context.Context, n Node, admin *api.Client) error {
	o := *s.opts.App
	wrote, err := apptoken.EnsurePolicy(ctx, admin.Sys(), o)
	if err != nil {
		return err
	}
	if wrote {
		n.Log.Info("app policy written", zap.String("policy", o.Policy))
	}
	saved, err := s.keys.LoadAppToken()
	switch {
	case err == nil:
		err = s.renewAppToken(ctx, n, saved)
		if err == nil {
			return nil
		}
		if !errors.Is(err, apptoken.ErrInvalid) {
			return err
		}
		n.Log.Warn("the saved app token no longer works (revoked, expired, or not vault-init's); issuing a new one", zap.Error(err))
	case !errors.Is(err, keystore.ErrNotFound):
		return err
	}
	token, err := apptoken.Issue(ctx, admin, o)
	if err != nil {
		return err
	}
	if err := s.keys.SaveAppToken(token); err != nil {
		if c, cerr := withToken(n.Client, token); cerr == nil {
			_ = revoke(c, n.Log, "the unsaved app token") // it must not live on
		}
		return fmt.Errorf("save the app token: %w", err)
	}
	s.progress.appIssued(token, s.clock.Now())
	n.Log.Info("app token issued and saved", zap.String("policy", o.Policy), zap.String("path", s.keys.AppTokenPath()),
		zap.Duration("period", o.Period))
	return nil
}

// renewAppToken renews the app token with itself (no root needed) and
// records when.
func (s *Setup) renewAppToken(ctx context.Context, n Node, token string) error {
	c, err := withToken(n.Client, token)
	if err != nil {
		return err
	}
	ttl, err := apptoken.Renew(ctx, c, *s.opts.App)
	if err != nil {
		return err
	}
	s.progress.setAppRenewed(s.clock.Now())
	n.Log.Debug("app token renewed", zap.Duration("ttl", ttl))
	return nil
}

// Maintain runs on the active node once it is set up: it renews the app
// token a few times per period. It returns ErrSetupAgain when the token is
// gone or no longer works (setup then issues a new one), or the error of a
// renewal that failed otherwise.
func (s *Setup) Maintain(ctx context.Context, n Node) error {
	if s.opts.App == nil || s.clock.Since(s.progress.appRenewed()) < s.opts.App.Period/4 {
		return nil
	}
	token, err := s.keys.LoadAppToken()
	if err == nil {
		err = s.renewAppToken(ctx, n, token)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, apptoken.ErrInvalid), errors.Is(err, keystore.ErrNotFound):
		n.Log.Warn("the app token is gone or no longer works; setting up a new one", zap.Error(err))
		return ErrSetupAgain
	}
	return fmt.Errorf("renew the app token: %w", err)
}
