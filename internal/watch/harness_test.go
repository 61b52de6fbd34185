package watch_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/config"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// interval is the check interval of the tests: short, so they run fast.
const interval = watchtest.Interval

// harness is the one in-process harness (watchtest), also used by the
// cluster tests and the benchmarks.
type harness = watchtest.Watcher

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
	return watchtest.Start(t, watchtest.Options{Nodes: []string{srv.Addr()}, DataDir: dataDir, TLS: s.tls,
		Token: s.token, Audit: s.audit, App: s.app, RevokeRoot: s.revokeRoot})
}

// runAt starts a Watcher for the Vault at addr (a proxy, say).
func runAt(t *testing.T, addr, dataDir string) *harness {
	t.Helper()
	return watchtest.Start(t, watchtest.Options{Nodes: []string{addr}, DataDir: dataDir})
}

// Matchers of the events the tests wait for.
var (
	isReady    = events.Is(events.Ready, "")
	isUnsealed = events.Is(events.Unsealed, "")
	isInit     = events.Is(events.Initialized, "")
)

// isStep matches a setup step's end.
func isStep(kind events.Kind, step string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == kind && e.Step == step }
}

// failedWith matches a failure whose error holds substr.
func failedWith(substr string) func(events.Event) bool {
	return func(e events.Event) bool {
		return (e.Kind == events.Failed || e.Kind == events.StepFailed) && strings.Contains(e.Error, substr)
	}
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
