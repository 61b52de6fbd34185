package watch_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaultclient"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch"
)

// interval is the check interval of the tests: short, so they run fast.
const interval = 250 * time.Millisecond

// harness runs one Watcher against a real Vault, in this process.
type harness struct {
	t       testing.TB
	dataDir string
	logs    *vaulttest.Buffer // debug-level JSON logs
	out     *vaulttest.Buffer // stdout: the banner
	errOut  *vaulttest.Buffer // stderr: the emergency block
	cancel  context.CancelFunc
	done    chan error
	// known are secrets the test made itself; knownGiven says the test
	// named them (maybe none), so that an unreadable keystore is expected.
	known      []*keystore.InitData
	knownGiven bool
}

type setup struct {
	tls   config.TLS
	token string
	audit string // file_path of an audit device to ensure
	app   *apptoken.Options
	// revokeRoot revokes the root token after setup.
	revokeRoot bool
}

// run starts a Watcher for srv keeping its keys in dataDir. It is stopped,
// and its logs checked for secrets, when the test ends.
func run(t *testing.T, srv *vaulttest.Server, dataDir string, s setup) *harness {
	t.Helper()
	return start(t, srv.Addr(), dataDir, s)
}

// runAt starts a Watcher for the Vault at addr (a proxy, say).
func runAt(t *testing.T, addr, dataDir string) *harness {
	t.Helper()
	return start(t, addr, dataDir, setup{})
}

func start(t *testing.T, addr, dataDir string, s setup) *harness {
	t.Helper()
	h := &harness{t: t, dataDir: dataDir, logs: &vaulttest.Buffer{}, out: &vaulttest.Buffer{},
		errOut: &vaulttest.Buffer{}, done: make(chan error, 1)}
	client, err := vaultclient.New(config.Config{VaultAddr: addr, TLS: s.tls}, addr)
	if err != nil {
		t.Fatal(err)
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(h.logs), zapcore.DebugLevel))
	w := watch.New(watch.Options{
		Nodes: []string{addr}, KVMount: "aurora", FallbackToken: s.token,
		SecretShares: 5, SecretThreshold: 3, RecoveryShares: 5, RecoveryThreshold: 3, CheckInterval: interval,
		AuditFile: s.audit, App: s.app, RevokeRoot: s.revokeRoot,
	}, []*api.Client{client}, keystore.New(dataDir), log, h.out, h.errOut)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		h.stop()
		h.assertNoSecrets()
	})
	return h
}

// stop ends the Watcher and returns what Run returned. It may be called
// more than once.
func (h *harness) stop() error {
	h.t.Helper()
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(5 * time.Second):
		h.t.Fatal("watcher did not stop within 5s of its context ending")
	}
	return nil
}

// running reports whether Run has not returned.
func (h *harness) running() bool {
	select {
	case err := <-h.done:
		h.done <- err
		return false
	default:
		return true
	}
}

// keys loads the keystore, or fails the test.
func (h *harness) keys() *keystore.InitData {
	h.t.Helper()
	d, err := keystore.New(h.dataDir).Load()
	if err != nil {
		h.t.Fatalf("load keystore: %v", err)
	}
	return d
}

// knows names the secrets a test made itself (an init of its own, the
// keys of a keystore it then garbles), for the scan at the end.
func (h *harness) knows(d ...*keystore.InitData) {
	h.known, h.knownGiven = append(h.known, d...), true
}

// assertNoSecrets checks every captured log and the emergency stream
// against every secret of the keystore and those the test named with
// knows: unseal and recovery keys, in hex and base64, and the root and app
// tokens. A scan that cannot know the secrets fails rather than pass.
func (h *harness) assertNoSecrets() {
	h.t.Helper()
	secrets, err := h.secrets()
	if err != nil {
		h.t.Errorf("secret scan: %v", err)
		return
	}
	if app, err := keystore.New(h.dataDir).LoadAppToken(); err == nil {
		secrets = append(secrets, &keystore.InitData{RootToken: app})
	}
	for _, d := range secrets {
		vaulttest.AssertNoSecrets(h.t, "the logs", h.logs.String(), d)
		vaulttest.AssertNoSecrets(h.t, "stderr", h.errOut.String(), d)
		vaulttest.AssertNoSecrets(h.t, "stdout, less the banner's token lines", vaulttest.WithoutBanner(h.out.String()), d)
	}
}

// secrets returns what the scan looks for. A keystore that exists and does
// not load, or none after vault-init got keys from sys/init, is an error
// unless the test named the secrets itself.
func (h *harness) secrets() ([]*keystore.InitData, error) {
	d, err := keystore.New(h.dataDir).Load()
	switch {
	case err == nil:
		return append(h.known, d), nil
	case h.knownGiven:
		return h.known, nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("the keystore does not load, so the scan would look for nothing (name the secrets with knows): %w", err)
	case gotKeys(h.logs.String()):
		return nil, errors.New("vault-init got keys from sys/init and the keystore has none: the scan cannot know them (name them with knows)")
	}
	return nil, nil
}

// gotKeys reports whether logs show that sys/init answered with keys.
func gotKeys(logs string) bool {
	for _, s := range []string{`"msg":"vault initialized"`, "unseal keys and root token saved", "could not save the unseal keys"} {
		if strings.Contains(logs, s) {
			return true
		}
	}
	return false
}

// readFile reads a file or fails the test.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// initJSON is the keystore path in dir.
func initJSON(dir string) string { return filepath.Join(dir, keystore.FileName) }

// countLines counts log lines holding substr.
func countLines(logs, substr string) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}
