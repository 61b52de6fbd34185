package k8stest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The test binary's shared server, started by the first Shared call.
var shared struct {
	mu      sync.Mutex
	running bool // Main is running the tests
	server  *Server
	dir     string
	err     error // the start failed: every later caller fails the same way
}

// Main runs the tests of a package whose tests call Shared, then stops the
// shared server and exits with the tests' code. Call it from TestMain:
//
//	func TestMain(m *testing.M) { k8stest.Main(m) }
//
// The server's files are removed unless a test failed; then its logs are
// kept and their directory printed.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.running = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.server != nil {
		shared.server.Stop()
	}
	if shared.dir != "" {
		if code == 0 {
			os.RemoveAll(shared.dir)
		} else {
			// The logs are what a reader wants; etcd's data (64 MB of
			// preallocated WAL) is not.
			os.RemoveAll(filepath.Join(shared.dir, "etcd"))
			fmt.Fprintf(os.Stderr, "k8stest: the shared server's files (etcd.log, kube-apiserver.log) are kept in %s\n", shared.dir)
		}
	}
	os.Exit(code)
}

// Shared returns the test binary's shared server, starting it on the first
// call. Tests that use it must keep to namespaces of their own
// (NewNamespace) and must not stop it. When the test fails, the servers'
// last log lines are written to its log. It needs TestMain to call Main,
// which stops the server after the last test, and fails the test
// otherwise. It skips or fails (see EtcdBinary) when the binaries are
// missing; when the start failed, this and every later call fail.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.running {
		t.Fatal("k8stest.Shared needs the package's TestMain to call k8stest.Main(m), which stops the server")
	}
	if shared.server == nil && shared.err == nil {
		etcdBin, apiBin := EtcdBinary(t), APIServerBinary(t)
		shared.dir, shared.err = os.MkdirTemp("", "k8stest-")
		if shared.err == nil {
			// Not the test's context: the server outlives this test.
			shared.server, shared.err = launch(context.Background(), shared.dir, etcdBin, apiBin)
		}
	}
	if shared.err != nil {
		t.Fatalf("k8stest: shared server: %v", shared.err)
	}
	s := shared.server
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpLogs(t)
		}
	})
	return s
}
