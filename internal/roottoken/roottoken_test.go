package roottoken_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/vaulttest"
)

func TestDecode(t *testing.T) {
	token, otp := "hvs.0123456789abcdefghijklmn", "ABCDEFGHIJKLMNOPQRSTUVWXYZab"
	enc := make([]byte, len(token))
	for i := range enc {
		enc[i] = token[i] ^ otp[i]
	}
	got, err := roottoken.Decode(base64.RawStdEncoding.EncodeToString(enc), otp)
	if err != nil || got != token {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	if _, err := roottoken.Decode(base64.RawStdEncoding.EncodeToString(enc), otp[:5]); err == nil {
		t.Fatal("an OTP of the wrong length was accepted")
	}
	if _, err := roottoken.Decode("%%%", otp); err == nil {
		t.Fatal("bad base64 was accepted")
	}
}

// initVault initializes a real Vault and unseals it; it returns its keys.
func initVault(t *testing.T) (*vaulttest.Server, []string) {
	t.Helper()
	srv := vaulttest.Start(t, vaulttest.Options{})
	ctx := context.Background()
	resp, err := srv.Client("").Sys().InitWithContext(ctx, &apiInit)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range resp.Keys {
		if _, err := srv.Client("").Sys().UnsealWithContext(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	return srv, resp.Keys
}

func TestGenerate(t *testing.T) {
	srv, keys := initVault(t)
	ctx := context.Background()
	sys := srv.Client("").Sys()
	nonces := keystore.New(t.TempDir())

	t.Run("a whole attempt gives a working root token", func(t *testing.T) {
		tok, err := roottoken.Generate(ctx, sys, nonces, keys)
		if err != nil {
			t.Fatal(err)
		}
		self, err := srv.Client(tok).Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := self.TokenPolicies(); len(p) != 1 || p[0] != "root" {
			t.Fatalf("policies %v", p)
		}
		if n, _ := nonces.LoadNonce(); n != "" {
			t.Fatal("the nonce record outlived the attempt")
		}
	})
	t.Run("someone else's attempt is left alone", func(t *testing.T) {
		op, err := sys.GenerateRootInitWithContext(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sys.GenerateRootUpdateWithContext(ctx, keys[1], op.Nonce); err != nil {
			t.Fatal(err)
		}
		_, err = roottoken.Generate(ctx, sys, nonces, keys)
		var busy *roottoken.BusyError
		if !errors.As(err, &busy) || busy.Progress != 1 || busy.Required != 3 {
			t.Fatalf("want BusyError 1 of 3, got %v", err)
		}
		st, err := sys.GenerateRootStatusWithContext(ctx)
		if err != nil || st.Nonce != op.Nonce || st.Progress != 1 {
			t.Fatalf("the operator's attempt changed: %+v %v", st, err)
		}
		if err := sys.GenerateRootCancelWithContext(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("vault-init's own attempt, left by a crash, is replaced", func(t *testing.T) {
		mine, err := sys.GenerateRootInitWithContext(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sys.GenerateRootUpdateWithContext(ctx, keys[0], mine.Nonce); err != nil {
			t.Fatal(err)
		}
		if err := nonces.SaveNonce(mine.Nonce); err != nil {
			t.Fatal(err)
		}
		tok, err := roottoken.Generate(ctx, sys, nonces, keys)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Client(tok).Auth().Token().LookupSelfWithContext(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("keys of another Vault", func(t *testing.T) {
		_, others := initVault(t)
		if _, err := roottoken.Generate(ctx, sys, nonces, others); err == nil {
			t.Fatal("another Vault's keys made a root token")
		}
	})
}

var apiInit = api.InitRequest{SecretShares: 5, SecretThreshold: 3}
