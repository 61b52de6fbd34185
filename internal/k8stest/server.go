// Package k8stest starts a real etcd and kube-apiserver for tests (built
// from the Go module proxy by `make k8s-bins`; never a fake clientset, whose
// RBAC, admission and conflicts are not Kubernetes'). Servers listen on free
// loopback ports, keep their data, certificates and logs in a temp dir, and
// are stopped through the processes this package started.
//
// Start gives a test a server of its own, stopped when the test ends.
// Shared gives every test of a test binary one server, started on first use
// and stopped by Main from TestMain; tests keep apart by namespace
// (NewNamespace). A start costs several seconds of the two cores CI has, so
// most tests should share.
package k8stest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// Server is one etcd and one kube-apiserver using it.
type Server struct {
	// Host is the apiserver's URL, https://127.0.0.1:PORT.
	Host string
	// CAData is the PEM of the certificates that the apiserver's serving
	// certificate verifies against (its self-signed cert-dir pair).
	CAData []byte
	// Dir holds the servers' data, certificates and logs (etcd.log,
	// kube-apiserver.log).
	Dir string

	adminToken string
	etcd, api  *proc
}

// Start starts a server for this test alone, with its files under
// t.TempDir(), and stops it when the test ends; the logs' last lines are
// written to the test's log if it failed. It skips or fails (see
// EtcdBinary) when the binaries are missing, and fails when the server does
// not become ready.
func Start(t testing.TB) *Server {
	t.Helper()
	etcdBin, apiBin := EtcdBinary(t), APIServerBinary(t)
	s, err := launch(t.Context(), t.TempDir(), etcdBin, apiBin)
	if err != nil {
		t.Fatalf("k8stest: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.dumpLogs(t)
		}
	})
	return s
}

// Stop stops the apiserver, then etcd. It is safe to call more than once.
func (s *Server) Stop() {
	s.api.stop()
	s.etcd.stop()
}

// AdminToken is a bearer token of a user in group system:masters.
func (s *Server) AdminToken() string { return s.adminToken }

// AdminConfig returns a new client config for the admin (AdminToken).
func (s *Server) AdminConfig() *rest.Config { return s.Config(s.adminToken) }

// Config returns a new client config for a bearer token (empty: anonymous)
// that verifies the apiserver's certificate against CAData. Client-side
// rate limiting is off, so that tests are not slowed to 5 requests a
// second.
func (s *Server) Config(token string) *rest.Config {
	return &rest.Config{
		Host:            s.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), s.CAData...)},
		QPS:             -1,
		Timeout:         30 * time.Second,
	}
}

// Logs returns the last n lines of etcd's and the apiserver's logs.
func (s *Server) Logs(n int) string {
	return fmt.Sprintf("--- etcd (last lines of %s)\n%s\n--- kube-apiserver (last lines of %s)\n%s",
		s.etcd.log, s.etcd.tail(n), s.api.log, s.api.tail(n))
}

func (s *Server) dumpLogs(t testing.TB) {
	t.Logf("k8stest: server logs\n%s", s.Logs(40))
}

// launch starts etcd and the apiserver with their files in dir and waits
// until the apiserver is ready. On an error both are stopped again.
func launch(ctx context.Context, dir, etcdBin, apiBin string) (s *Server, err error) {
	s = &Server{Dir: dir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	etcdURL, err := s.startEtcd(ctx, etcdBin)
	if err != nil {
		return nil, err
	}
	if err := s.prepareAPIServer(); err != nil {
		return nil, err
	}
	if err := s.startAPIServer(ctx, apiBin, etcdURL); err != nil {
		return nil, err
	}
	return s, nil
}

// startEtcd starts a single-member etcd and waits until /health is ok. It
// retries with other ports when one was taken meanwhile.
func (s *Server) startEtcd(ctx context.Context, bin string) (string, error) {
	for attempt := 1; ; attempt++ {
		client, err1 := freePort()
		peer, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			return "", fmt.Errorf("etcd ports: %w", err)
		}
		clientURL := fmt.Sprintf("http://127.0.0.1:%d", client)
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
		p, err := startProc("etcd", bin, filepath.Join(s.Dir, "etcd.log"),
			"--name=k8stest",
			"--data-dir="+filepath.Join(s.Dir, "etcd"),
			"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
			"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
			"--initial-cluster=k8stest="+peerURL,
			// A test's data is thrown away: fsync would only make every
			// write wait for a disk the other tests share.
			"--unsafe-no-fsync",
			// Info is mostly start-up chatter; a failure's tail should show
			// the warnings and errors.
			"--log-level=warn",
		)
		if err != nil {
			return "", err
		}
		s.etcd = p
		err = waitEtcd(ctx, p, clientURL, 60*time.Second)
		if err == nil {
			return clientURL, nil
		}
		if p.portTaken() && attempt < 3 {
			os.RemoveAll(filepath.Join(s.Dir, "etcd"))
			continue
		}
		p.stop()
		return "", fmt.Errorf("etcd did not become healthy: %w\n--- etcd log (last lines)\n%s", err, p.tail(40))
	}
}
