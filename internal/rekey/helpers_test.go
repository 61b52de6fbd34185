package rekey_test

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// fixture is a real Vault, initialized and unsealed, with its init reply
// kept in a data dir as vault-init keeps it.
type fixture struct {
	srv  *vaulttest.Server
	sys  *api.Sys
	dir  *keystore.File
	init *keystore.InitData // the keystore as first saved
	logs *vaulttest.Buffer
	log  *zap.Logger
}

// newFixture starts a Shamir Vault with shares/threshold unseal keys, or
// with seal (a stanza) an auto-unseal Vault with that many recovery keys.
func newFixture(t *testing.T, shares, threshold int, seal string) *fixture {
	t.Helper()
	srv, d := vaulttest.Initialized(t, vaulttest.Options{ExtraConfig: seal}, shares, threshold)
	dir := keystore.New(t.TempDir())
	if err := dir.Save(d); err != nil {
		t.Fatal(err)
	}
	logs := &vaulttest.Buffer{}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(logs), zap.DebugLevel))
	f := &fixture{srv: srv, sys: srv.Client("").Sys(), dir: dir, init: d, logs: logs, log: log}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return f
}

// load reads the keystore or fails the test.
func (f *fixture) load(t *testing.T) *keystore.InitData {
	t.Helper()
	d, err := f.dir.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// scan fails the test if the logs or out hold a key of any of the sets.
func (f *fixture) scan(t *testing.T, out string, sets ...*keystore.InitData) {
	t.Helper()
	for _, d := range append(sets, f.init) {
		vaulttest.AssertNoSecrets(t, "logs", f.logs.String(), d)
		vaulttest.AssertNoSecrets(t, "output", out, d)
	}
}

// sealed seals Vault (with the root token).
func (f *fixture) seal(t *testing.T) {
	t.Helper()
	if err := f.srv.Client(f.init.RootToken).Sys().SealWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// opens reports whether keys unseal the sealed Vault: each is submitted
// until it is unsealed, Vault refuses one, or the keys run out. Vault is
// left without unseal progress.
func (f *fixture) opens(t *testing.T, keys []string) bool {
	t.Helper()
	ctx := context.Background()
	defer f.sys.ResetUnsealProcessWithContext(ctx) //nolint:errcheck // only progress to drop
	for _, k := range keys {
		st, err := f.sys.UnsealWithContext(ctx, k)
		if err != nil {
			return false
		}
		if !st.Sealed {
			return true
		}
		if st.Progress == 0 {
			return false
		}
	}
	return false
}

// sealedAgain is true when Vault reports sealed.
func (f *fixture) sealedNow(t *testing.T) bool {
	t.Helper()
	st, err := f.sys.SealStatusWithContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Sealed
}
