// Package vaulttest starts real `vault server` processes for tests: file
// storage in a temp dir, a loopback port, never -dev (a dev server starts
// already initialized and unsealed, which would hide exactly what vault-init
// is for). A server can be stopped, killed and restarted on the same storage
// and port.
package vaulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/testport"
	"github.com/hashicorp/vault/api"
)

// Binary returns the vault binary to test against: $VAULT_BIN, else the
// repository's bin/vault (built by `make vault`), else `vault` on PATH. It
// fails the test, with the way to get one, when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VAULT_BIN"); p != "" {
		return p
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, "bin", "vault")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p
	}
	t.Fatal("no vault binary: run `make vault` (builds bin/vault), set VAULT_BIN, or put vault on PATH")
	return ""
}

// repoRoot walks up from the working directory to the product's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(raw, []byte("module github.com/aurora/vault-init\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod of vault-init not found")
		}
		dir = parent
	}
}

// Options shape a server.
type Options struct {
	// TLS, when set, makes the listener serve HTTPS with this certificate.
	TLS *Cert
	// ExtraConfig is appended to the HCL config file.
	ExtraConfig string
	// Raft, when set, uses integrated Raft storage instead of file storage.
	Raft *Raft
	// Port and ClusterPort are the API and cluster ports; 0 picks free ones.
	Port, ClusterPort int
	// ClusterAddr, when set, is the cluster address the node advertises
	// (cluster_addr) in place of its cluster listener's.
	ClusterAddr string
}

// Raft configures a node of a Raft cluster.
type Raft struct {
	NodeID string
	// JoinAddrs are the API addresses of the nodes to join (retry_join).
	JoinAddrs []string
}

// Server is one `vault server` process and its storage.
type Server struct {
	t           testing.TB
	bin         string
	Dir         string // holds config.hcl, data/ and vault.log
	Port        int
	ClusterPort int
	opts        Options

	mu  sync.Mutex
	cmd *exec.Cmd
	out *os.File
	// exited is closed when the current process has exited.
	exited chan struct{}
}

// Start starts a new, uninitialized server and waits until its listener
// answers. It is stopped when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(t, opts)
	s.Restart()
	return s
}

// New prepares a server without starting it; Restart starts it.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Port == 0 {
		opts.Port = freePort(t)
	}
	if opts.ClusterPort == 0 {
		opts.ClusterPort = freePort(t)
	}
	s := &Server{t: t, bin: Binary(t), Dir: t.TempDir(), Port: opts.Port, ClusterPort: opts.ClusterPort, opts: opts}
	if err := os.WriteFile(filepath.Join(s.Dir, "config.hcl"), []byte(s.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.dumpLog()
		}
	})
	return s
}

// Cluster prepares n Raft nodes that know each other (retry_join to all the
// others) and starts the first start of them.
func Cluster(t testing.TB, n, start int) []*Server {
	t.Helper()
	ports := make([]int, n)
	addrs := make([]string, n)
	for i := range ports {
		ports[i] = freePort(t)
		addrs[i] = fmt.Sprintf("http://127.0.0.1:%d", ports[i])
	}
	nodes := make([]*Server, n)
	for i := range nodes {
		var join []string
		for j, a := range addrs {
			if j != i {
				join = append(join, a)
			}
		}
		nodes[i] = New(t, Options{Port: ports[i], Raft: &Raft{NodeID: fmt.Sprintf("node%d", i+1), JoinAddrs: join}})
	}
	for i := 0; i < start; i++ {
		nodes[i].Restart()
	}
	return nodes
}

func (s *Server) config() string {
	listener := fmt.Sprintf("  address = \"127.0.0.1:%d\"\n  tls_disable = true\n", s.Port)
	scheme := "http"
	if s.opts.TLS != nil {
		scheme = "https"
		listener = fmt.Sprintf("  address = \"127.0.0.1:%d\"\n  tls_cert_file = %q\n  tls_key_file = %q\n",
			s.Port, s.opts.TLS.CertFile, s.opts.TLS.KeyFile)
	}
	storage := fmt.Sprintf("storage \"file\" {\n  path = %q\n}\n", filepath.Join(s.Dir, "data"))
	if r := s.opts.Raft; r != nil {
		storage = fmt.Sprintf("storage \"raft\" {\n  path = %q\n  node_id = %q\n", filepath.Join(s.Dir, "data"), r.NodeID)
		for _, a := range r.JoinAddrs {
			storage += fmt.Sprintf("  retry_join {\n    leader_api_addr = %q\n  }\n", a)
		}
		storage += "}\n"
		os.MkdirAll(filepath.Join(s.Dir, "data"), 0o700)
	}
	clusterAddr := s.opts.ClusterAddr
	if clusterAddr == "" {
		clusterAddr = fmt.Sprintf("https://127.0.0.1:%d", s.ClusterPort)
	}
	return fmt.Sprintf(`%slistener "tcp" {
%s  cluster_address = "127.0.0.1:%d"
}
disable_mlock = true
api_addr = "%s://127.0.0.1:%d"
cluster_addr = %q
log_level = "info"
%s`, storage, listener, s.ClusterPort, scheme, s.Port, clusterAddr, s.opts.ExtraConfig)
}

// Addr is the server's API address.
func (s *Server) Addr() string {
	if s.opts.TLS != nil {
		return fmt.Sprintf("https://127.0.0.1:%d", s.Port)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", s.Port)
}

// Restart starts the process again on the same storage and port (or for
// the first time) and waits until the listener accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.TryRestart(); err != nil {
		s.t.Fatal(err)
	}
}

// TryRestart is Restart that returns an error instead of failing the test
// when the process exits before its listener answers (a seal it cannot
// reach stops Vault at startup), with the tail of Vault's log. After such
// an error the server is stopped, and may be restarted.
func (s *Server) TryRestart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("vaulttest: Restart while the server is running")
	}
	out, err := os.OpenFile(filepath.Join(s.Dir, "vault.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "server", "-config", filepath.Join(s.Dir, "config.hcl"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "VAULT_LOG_LEVEL=info")
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start vault: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.out, s.exited = cmd, out, exited
	if err := waitListening(s.Port, exited, 60*time.Second); err != nil {
		select {
		case <-exited:
			out.Close()
			s.cmd, s.out = nil, nil
		default:
		}
		return fmt.Errorf("vault did not start listening: %w\n%s", err, s.logTail())
	}
	return nil
}

// Stop ends the process with SIGTERM and waits for it. It does nothing if
// the server is not running.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.out.Close()
	s.cmd, s.out = nil, nil
}

// Client returns an api client for the server with the given token (which
// may be empty), with the test CA trusted when the server uses TLS.
func (s *Server) Client(token string) *api.Client {
	s.t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr()
	cfg.MaxRetries = 0
	if s.opts.TLS != nil {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: s.opts.TLS.CAFile}); err != nil {
			s.t.Fatal(err)
		}
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// Health returns the server's sys/health reply, or fails the test.
func (s *Server) Health() *api.HealthResponse {
	s.t.Helper()
	h, err := s.Client("").Sys().HealthWithContext(context.Background())
	if err != nil {
		s.t.Fatalf("vault health: %v", err)
	}
	return h
}

// WaitFor polls the server's health until cond holds or timeout passes,
// and returns how long it took. It fails the test on timeout.
func (s *Server) WaitFor(what string, timeout time.Duration, cond func(*api.HealthResponse) bool) time.Duration {
	s.t.Helper()
	start := time.Now()
	c := s.Client("")
	for time.Since(start) < timeout {
		h, err := c.Sys().HealthWithContext(context.Background())
		if err == nil && cond(h) {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("vault: %s did not happen within %v", what, timeout)
	return 0
}

// Unsealed is a WaitFor condition.
func Unsealed(h *api.HealthResponse) bool { return h.Initialized && !h.Sealed }

func (s *Server) logTail() string {
	raw, _ := os.ReadFile(filepath.Join(s.Dir, "vault.log"))
	lines := strings.Split(string(raw), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func (s *Server) dumpLog() {
	tail := s.logTail()
	s.t.Logf("vault server log (last lines):\n%s", tail)
	// Vault runs on when it cannot bind its cluster listener (at its
	// unseal or join), and says so once, most often before the tail.
	raw, _ := os.ReadFile(filepath.Join(s.Dir, "vault.log"))
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, "error starting listener") && !strings.Contains(tail, l) {
			s.t.Logf("vault (port %d) could not bind its cluster listener on port %d: %s", s.Port, s.ClusterPort, l)
		}
	}
}

// freePort picks a loopback port that no other test server of this user
// is given (testport).
func freePort(t testing.TB) int {
	t.Helper()
	port, err := testport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// waitListening waits until something accepts connections on port, or the
// process exits, or timeout passes.
func waitListening(port int, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("vault exited")
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v", timeout)
}
