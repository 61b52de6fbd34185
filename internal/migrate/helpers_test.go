package migrate_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/migrate"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// startShamir starts a Vault, initializes it with 5 shares (threshold 3),
// unseals it, and keeps the reply in a file keystore as vault-init would.
func startShamir(t *testing.T) (*vaulttest.Server, *keystore.Keys, *keystore.InitData) {
	t.Helper()
	srv, data := vaulttest.Initialized(t, vaulttest.Options{}, 5, 3)
	keys := keystore.New(t.TempDir()).Keys
	if err := keys.Save(data); err != nil {
		t.Fatal(err)
	}
	return srv, keys, data
}

// unsealWith unseals a Shamir Vault with keys, or fails the test.
func unsealWith(t *testing.T, srv *vaulttest.Server, keys []string) {
	t.Helper()
	for _, k := range keys {
		st, err := srv.Client("").Sys().UnsealWithContext(context.Background(), k)
		if err != nil {
			t.Fatalf("unseal: %v", err)
		}
		if !st.Sealed {
			srv.WaitFor("unsealed", 30*time.Second, vaulttest.Unsealed)
			return
		}
	}
	t.Fatal("the keys did not unseal vault")
}

// runner runs migrate.Run against nodes (srv alone, unless a cluster test
// sets them) with keys, logging to a buffer that is scanned for the
// secrets of data when the test ends. describe, when set, says the nodes'
// state in the test's log after each run.
type runner struct {
	t        *testing.T
	srv      *vaulttest.Server
	nodes    []*vaulttest.Server
	keys     migrate.Keystore
	logs     *vaulttest.Buffer
	describe func() string
}

func newRunner(t *testing.T, srv *vaulttest.Server, keys migrate.Keystore, data *keystore.InitData) *runner {
	r := &runner{t: t, srv: srv, nodes: []*vaulttest.Server{srv}, keys: keys, logs: &vaulttest.Buffer{}}
	t.Cleanup(func() {
		vaulttest.AssertNoSecrets(t, "the migration's logs", r.logs.String(), data)
		if t.Failed() {
			t.Logf("migrate logs:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *runner) run() (migrate.Result, error) {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(r.logs), zapcore.DebugLevel))
	var nodes []migrate.Node
	for _, n := range r.nodes {
		nodes = append(nodes, migrate.Node{Addr: n.Addr(), Vault: n.Client("").Sys()})
	}
	res, err := migrate.Run(context.Background(), migrate.Options{Nodes: nodes, Keys: r.keys, Log: log})
	if err == nil {
		r.logs.Write([]byte(res.String() + "\n"))
	} else {
		r.logs.Write([]byte(err.Error() + "\n"))
	}
	if r.describe != nil {
		r.t.Logf("migrate: %v %v\n  nodes: %s", res, err, r.describe())
	}
	return res, err
}

// mustRun runs the migration and wants outcome.
func (r *runner) mustRun(want migrate.Outcome) migrate.Result {
	r.t.Helper()
	res, err := r.run()
	if err != nil {
		r.t.Fatalf("migrate: %v", err)
	}
	if res.Outcome != want {
		r.t.Fatalf("outcome %v (%s), want %v", res.Outcome, res, want)
	}
	return res
}

// sealStatus reads srv's seal-status, or fails the test.
func sealStatus(t *testing.T, srv *vaulttest.Server) *api.SealStatusResponse {
	t.Helper()
	st, err := srv.Client("").Sys().SealStatusWithContext(context.Background())
	if err != nil {
		t.Fatalf("seal status: %v", err)
	}
	return st
}

// reseal restarts srv with the seal stanza extra (stopped first).
func reseal(t *testing.T, srv *vaulttest.Server, extra string) {
	t.Helper()
	srv.Stop()
	srv.SetExtraConfig(extra)
	srv.Restart()
}

// load reads the keystore or fails the test.
func load(t *testing.T, keys migrate.Keystore) *keystore.InitData {
	t.Helper()
	d, err := keys.Load()
	if err != nil {
		t.Fatalf("keystore: %v", err)
	}
	return d
}

// wantAuto checks that the keystore holds orig's shares as the recovery
// keys of seal, with nothing pending.
func wantAuto(t *testing.T, d, orig *keystore.InitData, seal string) {
	t.Helper()
	switch {
	case d.SealType != seal || !d.AutoUnseal():
		t.Fatalf("keystore seal %q, want %q", d.SealType, seal)
	case !slices.Equal(d.RecoveryKeys, orig.Keys) || !slices.Equal(d.RecoveryKeysB64, orig.KeysB64):
		t.Fatal("the recovery keys are not the old unseal keys")
	case d.RecoveryShares != 5 || d.RecoveryThreshold != 3 || len(d.Keys) != 0 || d.SecretThreshold != 0:
		t.Fatalf("keystore %s", d)
	case d.Pending != nil:
		t.Fatalf("a change is still pending: %s", d)
	case d.RootToken != orig.RootToken || !d.CreatedAt.Equal(orig.CreatedAt):
		t.Fatal("the migration changed more than the shares' name")
	}
}

// wantShamir checks that the keystore holds orig's shares as unseal keys.
func wantShamir(t *testing.T, d, orig *keystore.InitData) {
	t.Helper()
	switch {
	case d.AutoUnseal() || d.SealType != migrate.Shamir:
		t.Fatalf("keystore seal %q, want shamir", d.SealType)
	case !slices.Equal(d.Keys, orig.Keys) || !slices.Equal(d.KeysB64, orig.KeysB64):
		t.Fatal("the unseal keys are not the original shares")
	case d.SecretShares != 5 || d.SecretThreshold != 3 || len(d.RecoveryKeys) != 0:
		t.Fatalf("keystore %s", d)
	case d.Pending != nil:
		t.Fatalf("a change is still pending: %s", d)
	}
}

// generateRoot proves that keys are the Vault's recovery (or unseal) keys:
// generate-root with them gives a working token.
func generateRoot(t *testing.T, srv *vaulttest.Server, keys []string) {
	t.Helper()
	ctx := context.Background()
	tok, err := roottoken.Generate(ctx, srv.Client("").Sys(), keystore.New(t.TempDir()), keys)
	if err != nil {
		t.Fatalf("generate-root with the stored keys: %v", err)
	}
	if _, err := srv.Client(tok).Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Fatalf("the generated root token does not work: %v", err)
	}
}
